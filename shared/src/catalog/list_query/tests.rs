use super::*;
use crate::catalog::cursor::SortKey;
use crate::catalog::ids::ProductId;
use proptest::prelude::*;

fn parse(query: &str) -> ListQuery {
    ListQuery::parse(query).unwrap_or_else(|errors| panic!("{query}: {errors:?}"))
}

fn reasons(query: &str) -> Vec<(String, &'static str)> {
    ListQuery::parse(query).unwrap_err().iter().map(|error| (error.field.clone(), error.reason)).collect()
}

#[test]
fn no_parameters_means_newest_first_24_per_page() {
    let query = parse("");
    assert_eq!(query, ListQuery::default());
    assert_eq!((query.sort, query.limit), (Sort::Newest, 24));
    assert_eq!(query.canonical(), "");
}

#[test]
fn parses_every_filter() {
    let query = parse(
        "?q=Cast+Iron&category=cookware&vendor=ven_01JC00000000000000000000A1&price_min=1000&price_max=5000\
         &in_stock=true&min_rating=4&near=38.7223,-9.1393&radius_km=10&sort=price_desc&limit=50&utm_source=x",
    );
    assert_eq!(query.q.as_ref().map(SearchQuery::as_str), Some("cast iron"));
    assert_eq!(query.category, Some(CategoryRef::Slug(Slug::parse("cookware").unwrap())));
    assert!(matches!(query.vendor, Some(VendorRef::Id(_))));
    assert_eq!(query.price, PriceRange { min_minor: Some(1000), max_minor: Some(5000) });
    assert!(query.in_stock);
    assert_eq!(query.min_rating.map(Rating::stars), Some(4));
    let near = query.near.unwrap();
    assert_eq!((near.center.lat(), near.center.lng(), near.radius_km), (38.7223, -9.1393, 10.0));
    assert_eq!((query.sort, query.limit), (Sort::PriceDesc, 50));
}

#[test]
fn each_invalid_parameter_is_named_with_a_reason() {
    let found = reasons(
        "category=Cook%20ware&vendor=cat_01JC00000000000000000000A1&price_min=-5&price_max=1.5&in_stock=yes\
         &min_rating=6&near=100,0&radius_km=0&sort=cheapest&limit=101&cursor=a%20b",
    );
    let expected = [
        ("category", "invalid_character"),
        ("vendor", "invalid_character"),
        ("price_min", "invalid"),
        ("price_max", "invalid"),
        ("in_stock", "invalid"),
        ("min_rating", "out_of_range"),
        ("near", "out_of_range"),
        ("radius_km", "out_of_range"),
        ("sort", "invalid"),
        ("limit", "out_of_range"),
        ("cursor", "invalid"),
    ];
    assert_eq!(found, expected.map(|(field, reason)| (field.to_owned(), reason)));
    let error = ListQuery::parse("limit=0").unwrap_err().to_api_error();
    assert_eq!(serde_json::to_value(error.code).unwrap(), "VAL_3002");
    assert_eq!(error.details, Some(serde_json::json!({"fields": {"limit": "out_of_range"}})));
}

#[test]
fn cross_field_rules() {
    assert_eq!(reasons("price_min=500&price_max=499"), [("price_max".to_owned(), "less_than_price_min")]);
    assert!(ListQuery::parse("price_min=500&price_max=500").is_ok());
    assert_eq!(reasons("radius_km=5"), [("radius_km".to_owned(), "needs_near")]);
    assert_eq!(parse("near=1,2").near.map(|near| near.radius_km), Some(DEFAULT_RADIUS_KM));
    assert_eq!(reasons("limit=5&limit=6"), [("limit".to_owned(), "repeated")]);
    assert_eq!(reasons("category=cat_nope"), [("category".to_owned(), "invalid")]);
}

#[test]
fn blank_parameters_are_absent_and_relevance_needs_a_search() {
    assert_eq!(parse("q=&category=&price_min=&sort="), ListQuery::default());
    assert_eq!(parse("sort=relevance").sort, Sort::Newest);
    assert_eq!(parse("q=mug").sort, Sort::Relevance);
    assert_eq!(parse("q=mug&sort=newest").sort, Sort::Newest);
}

#[test]
fn search_requires_q() {
    assert_eq!(ListQuery::parse_search("limit=5").unwrap_err().reason_for("q"), Some("required"));
    let both = ListQuery::parse_search("q=+&limit=0").unwrap_err();
    assert_eq!((both.reason_for("q"), both.reason_for("limit")), (Some("required"), Some("out_of_range")));
    let long = format!("q={}", "a".repeat(200));
    assert_eq!(ListQuery::parse_search(&long).unwrap_err().reason_for("q"), Some("too_long"));
    assert!(ListQuery::parse_search("q=mug").is_ok());
}

#[test]
fn suggest_needs_two_characters_and_caps_the_limit() {
    assert_eq!(SuggestQuery::parse("q=mu").unwrap().limit, DEFAULT_SUGGEST_LIMIT);
    assert_eq!(SuggestQuery::parse("q=m").unwrap_err().reason_for("q"), Some("too_short"));
    assert_eq!(SuggestQuery::parse("").unwrap_err().reason_for("q"), Some("required"));
    assert_eq!(SuggestQuery::parse("q=mug&limit=21").unwrap_err().reason_for("limit"), Some("out_of_range"));
}

#[test]
fn equal_queries_have_one_canonical_form() {
    let a = parse("sort=price_asc&q=Cast%20%20Iron&in_stock=1&utm=1&limit=24");
    let b = parse("q=cast+iron&in_stock=true&sort=price_asc");
    assert_eq!(a.canonical(), b.canonical());
    assert_eq!(a.canonical(), "q=cast+iron&in_stock=true&sort=price_asc");
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), parse("q=cast+iron&in_stock=true").fingerprint());
}

#[test]
fn the_page_size_and_cursor_do_not_change_the_fingerprint() {
    assert_eq!(parse("q=mug&limit=10").fingerprint(), parse("q=mug&limit=50&cursor=abc").fingerprint());
}

#[test]
fn a_next_cursor_continues_only_its_own_query() {
    let key = CursorKey::new(&[9; 32]).unwrap();
    let query = parse("category=cookware&sort=price_asc");
    let last = Position { key: SortKey::PriceAsc(2_499), id: ProductId::generate(1_763_700_000_000, [1; 10]) };
    let cursor = query.next_cursor(&key, &last);

    let next = parse(&format!("category=cookware&sort=price_asc&limit=48&cursor={cursor}"));
    assert_eq!(next.decode_cursor(&key), Ok(Some(last)));
    let other_filter = parse(&format!("category=kitchen&sort=price_asc&cursor={cursor}"));
    assert_eq!(other_filter.decode_cursor(&key).unwrap_err().reason_for("cursor"), Some("invalid"));
    let other_sort = parse(&format!("category=cookware&sort=price_desc&cursor={cursor}"));
    assert!(other_sort.decode_cursor(&key).is_err());
    assert_eq!(parse("").decode_cursor(&key), Ok(None));
}

fn any_query() -> impl Strategy<Value = String> {
    let pick = |name: &'static str, values: &'static [&'static str]| {
        prop::option::of(prop::sample::select(values)).prop_map(move |value| value.map(|v| format!("{name}={v}")))
    };
    (
        pick("q", &["mug", "Cast+Iron", "t-shirt+XL", "caf%C3%A9"]),
        pick("category", &["cookware", "cat_01JC00000000000000000000A1"]),
        pick("vendor", &["north-ceramics", "ven_01JC00000000000000000000B2"]),
        pick("price_min", &["0", "999", "2500"]),
        pick("price_max", &["2500", "100000"]),
        pick("in_stock", &["true", "false", "1"]),
        pick("min_rating", &["1", "4", "5"]),
        pick("near", &["38.7223,-9.1393", "-33.86785,151.20732", "0,0"]),
        pick("radius_km", &["5", "12.5", "500"]),
        pick("sort", &["relevance", "price_asc", "price_desc", "newest"]),
        pick("limit", &["1", "24", "100"]),
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i, j, k)| {
            [a, b, c, d, e, f, g, h, i, j, k].into_iter().flatten().collect::<Vec<_>>().join("&")
        })
}

proptest! {
    #[test]
    fn the_canonical_form_parses_back_to_the_same_query(query in any_query()) {
        if let Ok(parsed) = ListQuery::parse(&query) {
            let canonical = parsed.canonical();
            let reparsed = ListQuery::parse(&canonical).unwrap();
            prop_assert_eq!(&reparsed, &parsed);
            prop_assert_eq!(reparsed.canonical(), canonical);
        }
    }

    #[test]
    fn arbitrary_query_strings_never_panic(query in "\\PC{0,200}") {
        let _ = ListQuery::parse(&query);
        let _ = SuggestQuery::parse(&query);
    }
}

#[test]
fn popular_is_a_sort_of_its_own_with_its_own_cursors() {
    assert_eq!(parse("sort=popular").sort, Sort::Popular);
    assert_eq!(parse("q=mug&sort=popular").sort, Sort::Popular);
    assert_eq!(parse("sort=popular").canonical(), "sort=popular");
    let key = CursorKey::new(&[9; 32]).unwrap();
    let query = parse("sort=popular");
    let last = Position { key: SortKey::Popular(12_450), id: ProductId::generate(1_763_700_000_000, [1; 10]) };
    let cursor = query.next_cursor(&key, &last);
    assert_eq!(parse(&format!("sort=popular&cursor={cursor}")).decode_cursor(&key), Ok(Some(last)));
    let newest = parse(&format!("sort=newest&cursor={cursor}"));
    assert_eq!(newest.decode_cursor(&key).unwrap_err().reason_for("cursor"), Some("invalid"));
}

#[test]
fn popularity_counts_ratings_first_and_the_average_breaks_ties() {
    // Many middling ratings outrank one perfect one; at equal counts the better average wins.
    assert!(popularity_score(12, Some(310)) > popularity_score(1, Some(500)));
    assert!(popularity_score(12, Some(450)) > popularity_score(12, Some(449)));
    assert_eq!(popularity_score(0, None), 0);
    assert!(popularity_score(1, Some(100)) > popularity_score(0, None));
}

#[test]
fn nearest_sorts_by_distance_only_around_a_point() {
    assert_eq!(parse("near=38.72,-9.14&sort=nearest").sort, Sort::Nearest);
    assert_eq!(parse("sort=nearest").sort, Sort::Newest, "no point to measure from: newest");
    let key = CursorKey::new(&[9; 32]).unwrap();
    let query = parse("near=38.72,-9.14&sort=nearest");
    let last = Position { key: SortKey::Nearest(2_350), id: ProductId::generate(1_763_700_000_000, [1; 10]) };
    let cursor = query.next_cursor(&key, &last);
    let next = parse(&format!("near=38.72,-9.14&sort=nearest&cursor={cursor}"));
    assert_eq!(next.decode_cursor(&key), Ok(Some(last)));
    let elsewhere = parse(&format!("near=41.15,-8.63&sort=nearest&cursor={cursor}"));
    assert!(elsewhere.decode_cursor(&key).is_err(), "a cursor continues only the list around its own point");
}
