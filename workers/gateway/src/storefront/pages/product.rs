//! `/products/{product-slug}--{shop-slug}`: one product with its variants (each with its price and
//! stock), images, shop, rating and description, and the add-to-cart form (contract 1 with the
//! cart pages: `/cart/add` answers 303 back here with `added=1` or `cart_error=…`).

use futures_util::future::join;
use maud::{Markup, html};
use shared::catalog::cache::Tag;
use shared::catalog::{CategoryNode, Product, Variant};
use shared::storefront::browse::{category_trail, find_category, parse_product_slug, product_path, stock_wording};
use shared::storefront::form::Form;

use super::catalog_view::{breadcrumbs, img, rating};
use crate::storefront::errors::PageError;
use crate::storefront::layout;
use crate::storefront::page_cache::{self, Built, FRESH_KEY, with_fresh_keys};
use crate::storefront::visit::{Caching, Page, Visit};

pub async fn show(visit: &Visit<'_>, segment: &str, query: &str) -> Result<Page, PageError> {
    let (product_slug, vendor_slug) = parse_product_slug(segment).ok_or(PageError::NotFound)?;
    let path = product_path(&product_slug, &vendor_slug);
    let params = Form::parse_query(query);
    let added = params.get("added") == Some("1");
    let cart_error = params.get("cart_error").map(str::to_owned);
    let api = format!("/api/v1/vendors/{vendor_slug}/products/{product_slug}");
    let build = || async {
        let (tree, product) =
            join(visit.get::<Vec<CategoryNode>>("/api/v1/categories"), visit.get::<Product>(&api)).await;
        let (tree, product) = (tree?, product?);
        let body = render(visit, &tree, &product, &path, added, cart_error.as_deref());
        let members = vec![Tag::Product(product.id.clone()), Tag::Categories];
        Ok(Built { page: Page::Html { status: 200, body, caching: Caching::Public }, members })
    };
    // The messages after an add belong to one shopper: that answer is built for them alone.
    if added || cart_error.is_some() {
        let Built { page, .. } = build().await?;
        return Ok(match page {
            Page::Html { status, body, .. } => Page::Html {
                status,
                body: maud::PreEscaped(with_fresh_keys(body.into_string())),
                caching: Caching::Private,
            },
            other => other,
        });
    }
    // Any product write can change what a slug names, so `listings` guards the fill; the copy is
    // listed under its product (and the tree, for the breadcrumb) only.
    page_cache::serve(visit, &path, &[Tag::Listings, Tag::Categories], build).await
}

fn render(
    visit: &Visit,
    tree: &[CategoryNode],
    product: &Product,
    path: &str,
    added: bool,
    cart_error: Option<&str>,
) -> Markup {
    let title = product.title.as_str();
    let trail = find_category(tree, &product.category_id)
        .and_then(|node| category_trail(tree, node.category.slug.as_str()))
        .unwrap_or_default();
    let buyable = product.variants.iter().any(|variant| !variant.available.is_zero());
    let chosen = product.variants.iter().position(|variant| !variant.available.is_zero());
    let total: u32 = product.variants.iter().map(|variant| variant.available.get()).sum();
    layout::page(
        visit,
        title,
        html! {
            (breadcrumbs(&trail, Some((path, title))))
            article.product {
                div.gallery {
                    @for (index, image) in product.images.iter().enumerate() {
                        (img(image, title, index == 0))
                    }
                    @if product.images.is_empty() {
                        div.no-image aria-hidden="true" {}
                    }
                }
                div.details {
                    h1 { (title) }
                    @if let Some(vendor) = &product.vendor {
                        p.vendor {
                            "Sold by " a href={ "/v/" (vendor.slug.as_str()) } { (vendor.name.as_str()) }
                            @if let Some(city) = &vendor.city { " in " (city.as_str()) }
                        }
                    }
                    (rating(product.rating.as_ref()))
                    @if let Some(price) = product.price_from() {
                        p.price {
                            @if product.variants.len() > 1 { "From " }
                            strong { (price) }
                        }
                    }
                    p.stock { (stock_wording(total)) }
                    @if added {
                        div.notice role="status" { "Added to your cart. " a href="/cart" { "View your cart" } }
                    }
                    @if let Some(message) = cart_error {
                        div.error role="alert" { (message) }
                    }
                    form.add-to-cart method="post" action="/cart/add" {
                        fieldset {
                            legend { "Choose an option" }
                            @for (index, variant) in product.variants.iter().enumerate() {
                                (variant_choice(variant, index, chosen == Some(index), product.variants.len()))
                            }
                        }
                        p {
                            label for="quantity" { "Quantity" }
                            input #quantity type="number" name="quantity" min="1" max="99" value="1" inputmode="numeric" required;
                        }
                        input type="hidden" name="idempotency_key" value=(FRESH_KEY);
                        input type="hidden" name="return_to" value=(path);
                        @if buyable {
                            button type="submit" { "Add to cart" }
                        } @else {
                            button type="submit" disabled { "Out of stock" }
                        }
                    }
                    section aria-labelledby="description" {
                        h2 #description { "Description" }
                        @for paragraph in product.description.as_str().split("\n\n") {
                            p { (paragraph) }
                        }
                    }
                }
            }
        },
    )
}

fn variant_choice(variant: &Variant, index: usize, checked: bool, count: usize) -> Markup {
    let id = format!("variant-{index}");
    let label = if variant.options.is_empty() { "Standard".to_owned() } else { variant.options.described() };
    let sold_out = variant.available.is_zero();
    html! {
        div.variant {
            input id=(id) type="radio" name="variant_id" value=(variant.id.as_str()) checked[checked || count == 1] disabled[sold_out] required;
            label for=(id) {
                span.option { (label) }
                " — "
                span.price { (variant.price) }
                @if let Some(compare_at) = variant.compare_at {
                    " " del aria-label={ "was " (compare_at) } { (compare_at) }
                }
                " — "
                span.stock { (stock_wording(variant.available.get())) }
            }
        }
    }
}
