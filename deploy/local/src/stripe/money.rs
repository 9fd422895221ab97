//! Currencies and amount limits as docs.stripe.com/currencies lists them.

use shared::catalog::money::Currency;
use shared::payments::stripe::stripe_decimals;

use super::error::ApiError;
use super::params::Params;

/// Presentment currencies for card payments ("Supported presentment currencies").
pub const SUPPORTED: [&str; 134] = [
    "usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt", "bgn", "bif",
    "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf", "chf", "clp", "cny", "cop", "crc", "cve",
    "czk", "djf", "dkk", "dop", "dzd", "egp", "etb", "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq",
    "gyd", "hkd", "hnl", "htg", "huf", "idr", "ils", "inr", "isk", "jmd", "jpy", "kes", "kgs", "khr", "kmf", "krw",
    "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk", "mnt", "mop", "mur", "mvr",
    "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr", "nzd", "pab", "pen", "pgk", "php", "pkr", "pln",
    "pyg", "qar", "ron", "rsd", "rub", "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std",
    "szl", "thb", "tjs", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "uyu", "uzs", "vnd", "vuv", "wst", "xaf",
    "xcd", "xof", "xpf", "yer", "zar", "zmw",
];

/// "Minimum and maximum charge amounts", in Stripe's units, for charges settled in the same
/// currency. Other currencies would be converted to the settlement currency first, which the
/// sandbox does not do: for them any positive amount passes.
const MINIMUMS: [(&str, i64); 24] = [
    ("usd", 50),
    ("aed", 200),
    ("aud", 50),
    ("bgn", 100),
    ("brl", 50),
    ("cad", 50),
    ("chf", 50),
    ("czk", 1500),
    ("dkk", 250),
    ("eur", 50),
    ("gbp", 30),
    ("hkd", 400),
    ("huf", 17500),
    ("inr", 50),
    ("jpy", 50),
    ("mxn", 1000),
    ("myr", 200),
    ("nok", 300),
    ("nzd", 50),
    ("pln", 200),
    ("ron", 200),
    ("sek", 300),
    ("sgd", 50),
    ("thb", 1000),
];

/// The `currency` parameter: required, lower-case, supported.
pub fn currency(params: &Params) -> Result<String, ApiError> {
    let currency = params.required("currency")?;
    if !SUPPORTED.contains(&currency.as_str()) {
        return Err(ApiError::invalid(format!(
            "Invalid currency: {currency}. Stripe currently supports these currencies: {}",
            SUPPORTED.join(", ")
        ))
        .param("currency")
        .validation());
    }
    Ok(currency)
}

/// Minimum per the table, maximum by digit count (12 for IDR, 9 for INR, 8 otherwise).
pub fn check_charge_amount(amount: i64, currency: &str) -> Result<(), ApiError> {
    let minimum = MINIMUMS.iter().find(|(code, _)| *code == currency).map_or(1, |(_, minimum)| *minimum);
    if amount < minimum {
        return Err(ApiError::invalid(format!("Amount must be at least {} {currency}", display(minimum, currency)))
            .code("amount_too_small")
            .param("amount")
            .validation());
    }
    let digits = match currency {
        "idr" => 12,
        "inr" => 9,
        _ => 8,
    };
    let maximum = 10i64.pow(digits) - 1;
    if amount > maximum {
        return Err(ApiError::invalid(format!("Amount must be no more than {}", display(maximum, currency)))
            .code("amount_too_large")
            .param("amount")
            .validation());
    }
    Ok(())
}

/// `$1,234.50`, `€0.50`, `¥50`, `1,000.00 SEK`: how Stripe writes amounts in messages.
pub fn display(amount: i64, currency: &str) -> String {
    let decimals = Currency::parse(currency).map_or(2, stripe_decimals);
    let sign = if amount < 0 { "-" } else { "" };
    let magnitude = amount.unsigned_abs();
    let scale = 10u64.pow(u32::from(decimals));
    let whole = group_thousands(magnitude / scale);
    let number = if decimals == 0 {
        whole
    } else {
        format!("{whole}.{:0width$}", magnitude % scale, width = usize::from(decimals))
    };
    match symbol(currency) {
        Some(symbol) => format!("{sign}{symbol}{number}"),
        None => format!("{sign}{number} {}", currency.to_ascii_uppercase()),
    }
}

fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "usd" | "aud" | "cad" | "nzd" | "sgd" | "hkd" | "mxn" => "$",
        "eur" => "€",
        "gbp" => "£",
        "jpy" => "¥",
        "inr" => "₹",
        _ => return None,
    })
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// A connected account's default currency from its country (a few common ones; USD otherwise).
pub fn default_currency(country: &str) -> &'static str {
    match country {
        "GB" => "gbp",
        "AT" | "BE" | "CY" | "DE" | "EE" | "ES" | "FI" | "FR" | "GR" | "HR" | "IE" | "IT" | "LT" | "LU" | "LV"
        | "MT" | "NL" | "PT" | "SI" | "SK" => "eur",
        "CA" => "cad",
        "AU" => "aud",
        "JP" => "jpy",
        "CH" => "chf",
        "SE" => "sek",
        "DK" => "dkk",
        "NO" => "nok",
        "PL" => "pln",
        _ => "usd",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_like_stripes_messages() {
        assert_eq!(display(50, "usd"), "$0.50");
        assert_eq!(display(2500, "usd"), "$25.00");
        assert_eq!(display(99_999_999, "usd"), "$999,999.99");
        assert_eq!(display(50, "jpy"), "¥50");
        assert_eq!(display(9345, "gbp"), "£93.45");
        assert_eq!(display(150_000, "sek"), "1,500.00 SEK");
        assert_eq!(display(-30, "eur"), "-€0.30");
    }

    #[test]
    fn charge_amounts_respect_the_documented_limits() {
        assert_eq!(check_charge_amount(49, "usd").unwrap_err().message, "Amount must be at least $0.50 usd");
        assert!(check_charge_amount(50, "usd").is_ok());
        assert!(check_charge_amount(29, "gbp").is_err());
        assert!(check_charge_amount(1, "kes").is_ok());
        assert_eq!(check_charge_amount(100_000_000, "usd").unwrap_err().code.as_deref(), Some("amount_too_large"));
        assert!(check_charge_amount(999_999_999, "inr").is_ok());
    }
}
