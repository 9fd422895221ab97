use proptest::prelude::*;
use serde_json::json;

use super::*;

fn create(body: serde_json::Value) -> Result<NewProduct, FieldErrors> {
    serde_json::from_value::<CreateProductInput>(body).expect("shape").validate()
}

fn mug() -> serde_json::Value {
    json!({
        "title": "Stoneware Mug",
        "category_id": "cat_01JC00000000000000000000A1",
        "options": ["Colour"],
        "variants": [
            {"sku": "mug-blue", "options": {"Colour": "Blue"}, "price": {"amount_minor": 1299, "currency": "EUR"},
             "compare_at_price": {"amount_minor": 1599, "currency": "EUR"}, "weight_grams": 350, "stock": 12},
            {"sku": "mug-red", "options": {"colour": "Red"}, "price": {"amount_minor": 1299, "currency": "eur"}}
        ]
    })
}

#[test]
fn a_valid_product_defaults_to_a_draft_with_a_slug_from_its_title() {
    let product = create(mug()).expect("valid");
    assert_eq!(product.status, ProductStatus::Draft);
    assert_eq!(product.slug, SlugChoice::Derived(Slug::parse("stoneware-mug").unwrap()));
    assert_eq!(product.currency, Currency::EUR);
    assert_eq!(product.variants[0].sku.as_str(), "MUG-BLUE");
    assert_eq!(product.variants[0].stock, Quantity::new(12).unwrap());
    assert_eq!(product.variants[1].stock, Quantity::ZERO);
    assert!(product.description.is_empty());
}

#[test]
fn every_bad_field_is_named_at_once() {
    let errors = create(json!({
        "title": " ",
        "category_id": "prod_01JC00000000000000000000A1",
        "slug": "Not A Slug",
        "status": "archived",
        "variants": [
            {"sku": "-bad", "options": {"Size": "M"}, "price": {"amount_minor": -1, "currency": "EUR"}, "stock": -3},
            {"sku": "ok-1", "options": {"Size": "L"}, "price": {"amount_minor": 100, "currency": "EURO"},
             "weight_grams": -1}
        ]
    }))
    .unwrap_err();
    let reasons: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.reason)).collect();
    assert_eq!(
        reasons,
        [
            ("title", "empty"),
            ("category_id", "wrong_prefix"),
            ("slug", "invalid_character"),
            ("status", "not_allowed_on_create"),
            ("variants[0].sku", "invalid_character"),
            ("variants[0].price", "out_of_range"),
            ("variants[0].stock", "out_of_range"),
            ("variants[1].price.currency", "invalid_currency"),
            ("variants[1].weight_grams", "out_of_range"),
        ]
    );
    let error = errors.to_api_error();
    assert_eq!((error.code, error.status()), (ErrorCode::ValidationFailed, 422));
}

#[test]
fn missing_fields_and_an_empty_variant_list_are_required() {
    let errors = create(json!({})).unwrap_err();
    for field in ["title", "category_id", "variants"] {
        assert_eq!(errors.reason_for(field), Some("required"), "{field}");
    }
    let errors = create(json!({"title": "x", "category_id": "cat_01JC00000000000000000000A1",
        "variants": [{"options": {}}]}))
    .unwrap_err();
    assert_eq!(errors.reason_for("variants[0].sku"), Some("required"));
    assert_eq!(errors.reason_for("variants[0].price"), Some("required"));
}

#[test]
fn variants_must_agree_on_currency_and_options_and_differ_in_sku_and_options() {
    let mut body = mug();
    body["variants"][1]["price"]["currency"] = json!("USD");
    assert_eq!(create(body).unwrap_err().reason_for("variants[1].price.currency"), Some("currency_mismatch"));

    let mut body = mug();
    body["variants"][1]["options"] = json!({"Size": "M"});
    assert_eq!(create(body).unwrap_err().reason_for("variants[1].options"), Some("options_mismatch"));

    let mut body = mug();
    body["variants"][1]["sku"] = json!("MUG-BLUE");
    body["variants"][1]["options"] = json!({"Colour": "Blue"});
    let errors = create(body).unwrap_err();
    assert_eq!(errors.reason_for("variants[1].sku"), Some("duplicate"));
    assert_eq!(errors.reason_for("variants[1].options"), Some("duplicate"));

    let mut body = mug();
    body["options"] = json!(["Colour", "colour"]);
    assert_eq!(create(body).unwrap_err().reason_for("options"), Some("duplicate_option"));

    let mut body = mug();
    body["variants"][0]["compare_at_price"]["amount_minor"] = json!(1000);
    assert_eq!(create(body).unwrap_err().reason_for("variants[0].compare_at_price"), Some("compare_at_not_higher"));
}

#[test]
fn a_vendor_id_in_the_body_is_refused_not_ignored() {
    let mut body = mug();
    body["vendor_id"] = json!("ven_01JC00000000000000000000B2");
    assert!(serde_json::from_value::<CreateProductInput>(body).is_err());
}

#[test]
fn too_many_variants_is_one_error() {
    let variant = json!({"sku": "a", "price": {"amount_minor": 1, "currency": "EUR"}});
    let body = json!({"title": "x", "category_id": "cat_01JC00000000000000000000A1",
        "variants": vec![variant; MAX_VARIANTS + 1]});
    assert_eq!(create(body).unwrap_err().reason_for("variants"), Some("too_many"));
}

#[test]
fn a_derived_slug_has_a_unique_alternative_and_a_given_one_none() {
    let id = ProductId::parse("prod_01JC0000000000000000ABCDEF").unwrap();
    let derived = SlugChoice::Derived(Slug::parse("stoneware-mug").unwrap());
    assert_eq!(derived.alternative(&id).unwrap().as_str(), "stoneware-mug-00abcdef");
    let long = SlugChoice::Derived(Slug::slugify(&"word ".repeat(40)).unwrap());
    let alternative = long.alternative(&id).unwrap();
    assert!(alternative.as_str().len() <= MAX_SLUG_LEN && alternative.as_str().ends_with("-00abcdef"));
    assert_eq!(SlugChoice::Given(Slug::parse("mine").unwrap()).alternative(&id), None);
    // A title with nothing to slug still gets one.
    let mut body = mug();
    body["title"] = json!("茶碗");
    assert_eq!(create(body).unwrap().slug.preferred().as_str(), "product");
}

#[test]
fn status_changes_follow_the_lifecycle_rules() {
    use ProductStatus::{Active, Archived, Draft};
    assert_eq!(allowed_sources(Active), [Draft, Active]);
    assert_eq!(allowed_sources(Archived), [Draft, Active, Archived]);
    assert_eq!(allowed_sources(Draft), [Draft, Active, Archived]);
    assert_eq!(refused_transition(Archived, Active, 2).reason_for("status"), Some("transition_not_allowed"));
    assert_eq!(refused_transition(Draft, Active, 0).reason_for("status"), Some("needs_a_variant"));
    assert_eq!(ProductPatch::archive().status, Some(Archived));
}

#[test]
fn patches_check_only_what_is_sent() {
    let patch: ProductPatchInput = serde_json::from_value(json!({"title": "  New  title "})).unwrap();
    assert_eq!(patch.validate().unwrap().title.unwrap().as_str(), "New title");
    let patch: ProductPatchInput = serde_json::from_value(json!({"status": "gone", "slug": "A"})).unwrap();
    let errors = patch.validate().unwrap_err();
    assert_eq!((errors.reason_for("status"), errors.reason_for("slug")), (Some("invalid"), Some("invalid_character")));

    let clear: VariantPatchInput = serde_json::from_value(json!({"compare_at_price": null})).unwrap();
    assert_eq!(clear.validate().unwrap().compare_at, Some(None));
    let keep: VariantPatchInput = serde_json::from_value(json!({"stock": 4})).unwrap();
    let keep = keep.validate().unwrap();
    assert_eq!((keep.compare_at, keep.stock), (None, Some(Quantity::new(4).unwrap())));
    let bad: VariantPatchInput = serde_json::from_value(json!({
        "price": {"amount_minor": 500, "currency": "EUR"},
        "compare_at_price": {"amount_minor": 400, "currency": "EUR"},
        "stock": 2_000_000
    }))
    .unwrap();
    let errors = bad.validate().unwrap_err();
    assert_eq!(errors.reason_for("compare_at_price"), Some("compare_at_not_higher"));
    assert_eq!(errors.reason_for("stock"), Some("out_of_range"));
}

#[test]
fn hiding_a_product_needs_a_reason() {
    let hide = ModerationInput { hidden: true, reason: None };
    assert_eq!(hide.validate().unwrap_err().reason_for("reason"), Some("required"));
    let hide = ModerationInput { hidden: true, reason: Some(" counterfeit  listing ".into()) };
    assert_eq!(hide.validate().unwrap().reason.as_deref(), Some("counterfeit listing"));
    assert_eq!(ModerationInput { hidden: false, reason: None }.validate().unwrap().reason, None);
}

#[test]
fn vendors_need_a_name_and_both_coordinates_or_neither() {
    let input = |body| serde_json::from_value::<NewVendorInput>(body).unwrap().validate();
    let vendor = input(json!({"name": "North Ceramics", "latitude": 59.91, "longitude": 10.75})).unwrap();
    assert_eq!(vendor.slug.as_str(), "north-ceramics");
    assert!(vendor.location.is_some());
    assert_eq!(input(json!({"name": "x", "latitude": 1.0})).unwrap_err().reason_for("longitude"), Some("required"));
    assert_eq!(
        input(json!({"name": "x", "latitude": 91.0, "longitude": 0.0})).unwrap_err().reason_for("latitude"),
        Some("out_of_range")
    );
    assert_eq!(input(json!({})).unwrap_err().reason_for("name"), Some("required"));
}

#[test]
fn a_vendor_city_is_optional_and_validated() {
    let input = |body| serde_json::from_value::<NewVendorInput>(body).unwrap().validate();
    let vendor = input(json!({"name": "North Ceramics", "city": "  Lisbon "})).unwrap();
    assert_eq!(vendor.city.map(|city| city.as_str().to_owned()).as_deref(), Some("Lisbon"));
    assert_eq!(input(json!({"name": "North Ceramics"})).unwrap().city, None);
    assert_eq!(input(json!({"name": "x", "city": " "})).unwrap_err().reason_for("city"), Some("empty"));
    let errors = input(json!({"name": "", "city": "L".repeat(81)})).unwrap_err();
    assert_eq!((errors.reason_for("name"), errors.reason_for("city")), (Some("empty"), Some("too_long")));
}

#[test]
fn vendor_list_cursors_belong_to_one_vendor_and_filter() {
    let key = CursorKey::new(&[7u8; 32]).unwrap();
    let a = VendorId::parse("ven_01JC00000000000000000000A1").unwrap();
    let b = VendorId::parse("ven_01JC00000000000000000000B2").unwrap();
    let position = Position {
        key: super::super::cursor::SortKey::Newest(1_700_000_000_000_000),
        id: ProductId::parse("prod_01JC00000000000000000000A1").unwrap(),
    };
    let drafts = VendorListQuery::parse("status=draft&limit=5").unwrap();
    let cursor = drafts.next_cursor(&key, &a, &position);
    let next = VendorListQuery::parse(&format!("status=draft&limit=5&cursor={cursor}")).unwrap();
    assert_eq!(next.decode_cursor(&key, &a).unwrap(), Some(position));
    assert_eq!(next.decode_cursor(&key, &b).unwrap_err().reason_for("cursor"), Some("invalid"));
    let all = VendorListQuery::parse(&format!("cursor={cursor}")).unwrap();
    assert!(all.decode_cursor(&key, &a).is_err());
    let errors = VendorListQuery::parse("status=sold&limit=0").unwrap_err();
    assert_eq!((errors.reason_for("status"), errors.reason_for("limit")), (Some("invalid"), Some("out_of_range")));
}

#[test]
fn the_admin_vendor_list_pages_by_id() {
    let query = AdminVendorQuery::parse("cursor=ven_01JC00000000000000000000A1&limit=2").unwrap();
    assert_eq!((query.after.unwrap().as_str(), query.limit), ("ven_01JC00000000000000000000A1", 2));
    assert_eq!(
        AdminVendorQuery::parse("cursor=prod_01JC00000000000000000000A1").unwrap_err().reason_for("cursor"),
        Some("wrong_prefix")
    );
}

#[test]
fn constraint_names_map_to_stable_codes() {
    assert_eq!(constraint_error("products_category_id_fkey").unwrap().code, ErrorCode::ValidationFailed);
    let taken = constraint_error("variants_vendor_id_sku_key").unwrap();
    assert_eq!((taken.code, taken.status()), (ErrorCode::Conflict, 409));
    assert_eq!(taken.details, Some(json!({"fields": {"sku": "taken"}})));
    assert_eq!(constraint_error("products_vendor_id_fkey").unwrap().code, ErrorCode::Forbidden);
    assert_eq!(
        constraint_error("variants_check").unwrap().details,
        Some(json!({"fields": {"compare_at_price": "compare_at_not_higher"}}))
    );
    assert_eq!(constraint_error("products_pkey"), None);
}

proptest! {
    #[test]
    fn alternatives_are_valid_slugs_ending_in_the_id(text in "\\PC{1,120}") {
        let id = ProductId::parse("prod_01JC0000000000000000ABCDEF").unwrap();
        if let Some(slug) = Slug::slugify(&text) {
            let alternative = SlugChoice::Derived(slug).alternative(&id).unwrap();
            prop_assert!(alternative.as_str().ends_with("-00abcdef"));
            prop_assert!(alternative.as_str().len() <= MAX_SLUG_LEN);
        }
    }
}
