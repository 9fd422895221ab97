use std::cell::RefCell;
use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::test_support::block_on;

const URL: &str = "https://spin.example/api/events";
const NOW: i64 = 1_795_000_000;
const CURRENT: &str = "sig_5wKXQ6mPSerYPu6DRqYpA5dDjVZW";
const NEXT: &str = "sig_6Psg6RgxALRgP1zFSvuqUim5Nsqc";

/// Test-only replay store: ids in a map, expiry ignored.
#[derive(Default)]
struct MemorySeenJtiStore {
    seen: RefCell<HashMap<String, i64>>,
}

impl SeenJtiStore for MemorySeenJtiStore {
    async fn first_seen(&self, jti: &str, expires_at_unix: i64) -> Result<bool, StoreError> {
        Ok(self.seen.borrow_mut().insert(jti.to_owned(), expires_at_unix).is_none())
    }
}

struct FailingStore;

impl SeenJtiStore for FailingStore {
    async fn first_seen(&self, _: &str, _: i64) -> Result<bool, StoreError> {
        Err(StoreError("redis down".into()))
    }
}

fn keys() -> Keys {
    Keys { current: SigningKey::new(CURRENT), next: Some(SigningKey::new(NEXT)) }
}

fn request<'a>(body: &'a [u8], jti: &'a str) -> SignRequest<'a> {
    SignRequest { issuer: "marketplace-edge", url: URL, body, now: NOW, jti }
}

fn signed(body: &[u8]) -> String {
    sign(&SigningKey::new(CURRENT), request(body, "jwt_1")).unwrap()
}

fn check(token: &str, body: &[u8], now: i64) -> Result<VerifiedSignature, SignatureError> {
    block_on(verify(&keys(), Some(token), URL, body, now, &MemorySeenJtiStore::default()))
}

/// A token assembled by hand the way QStash does, independently of jwt-compact.
fn hand_made_token(secret: &str, claims: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn claims(iat: i64, exp: i64) -> serde_json::Value {
    json!({
        "iss": "Upstash", "sub": URL, "iat": iat, "nbf": iat, "exp": exp,
        "jti": "jwt_67kxXD6UBAk7DqU6hzuHMDdXFXfP", "body": body_hash(b"{}"),
    })
}

fn decode_part(token: &str, index: usize) -> serde_json::Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn body_hash_is_padded_base64url_of_sha256() {
    // SHA-256("") = e3b0c442…b855, base64 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".
    assert_eq!(body_hash(b""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");
    let standard = STANDARD.encode(Sha256::digest(b"payload"));
    assert_eq!(body_hash(b"payload"), standard.replace('+', "-").replace('/', "_"));
}

#[test]
fn signed_token_has_qstash_header_and_claims() {
    let token = sign(&SigningKey::new(CURRENT), request(b"{\"a\":1}", "jwt_abc")).unwrap();
    assert_eq!(decode_part(&token, 0), json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(
        decode_part(&token, 1),
        json!({
            "iss": "marketplace-edge",
            "sub": URL,
            "iat": NOW,
            "nbf": NOW,
            "exp": NOW + 300,
            "jti": "jwt_abc",
            "body": body_hash(b"{\"a\":1}"),
        })
    );
}

#[test]
fn sign_then_verify_accepts_and_reports_the_claims() {
    let verified = check(&signed(b"hello"), b"hello", NOW).unwrap();
    assert_eq!(
        verified,
        VerifiedSignature {
            issuer: "marketplace-edge".into(),
            subject: URL.into(),
            jti: "jwt_1".into(),
            issued_at: NOW,
            expires_at: NOW + 300,
            key: KeyUsed::Current,
        }
    );
}

#[test]
fn a_signed_request_sends_exactly_what_it_signed() {
    let request = signed_request(&SigningKey::new(CURRENT), Method::Post, request(b"{\"a\":1}", "jwt_1")).unwrap();
    assert_eq!((request.method, request.url.as_str(), request.body.as_slice()), (Method::Post, URL, &b"{\"a\":1}"[..]));
    let headers: Vec<&str> = request.headers.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(headers, [SIGNATURE_HEADER]);
    let token = &request.headers[0].1;
    assert!(check(token, &request.body, NOW).is_ok());
    assert_eq!(check(token, b"{\"a\":2}", NOW), Err(SignatureError::BodyMismatch));
}

#[test]
fn refusals_are_401_with_their_code_and_an_unreachable_store_503() {
    let answer = |error: SignatureError| {
        let error = error.to_api_error();
        (error.code, error.status())
    };
    assert_eq!(answer(SignatureError::Missing), (ErrorCode::SignatureMissing, 401));
    assert_eq!(answer(SignatureError::Replayed { jti: "j".into() }), (ErrorCode::SignatureReplayed, 401));
    assert_eq!(answer(SignatureError::BodyMismatch), (ErrorCode::SignatureInvalid, 401));
    assert_eq!(answer(SignatureError::BadSignature), (ErrorCode::SignatureInvalid, 401));
    assert_eq!(answer(SignatureError::Store(StoreError("down".into()))), (ErrorCode::DependencyUnavailable, 503));
}

#[test]
fn a_token_built_the_qstash_way_verifies() {
    let token = hand_made_token(CURRENT, claims(NOW, NOW + 300));
    let verified = check(&token, b"{}", NOW + 10).unwrap();
    assert_eq!(verified.issuer, "Upstash");
    assert_eq!(verified.key, KeyUsed::Current);
}

#[test]
fn an_unpadded_body_hash_is_accepted_too() {
    let mut unpadded = claims(NOW, NOW + 300);
    unpadded["body"] = json!(body_hash(b"{}").trim_end_matches('=').to_owned());
    assert!(check(&hand_made_token(CURRENT, unpadded), b"{}", NOW).is_ok());
}

#[test]
fn missing_or_blank_header_is_missing() {
    let store = MemorySeenJtiStore::default();
    assert_eq!(block_on(verify(&keys(), None, URL, b"", NOW, &store)), Err(SignatureError::Missing));
    assert_eq!(block_on(verify(&keys(), Some("  "), URL, b"", NOW, &store)), Err(SignatureError::Missing));
}

#[test]
fn garbage_is_malformed() {
    for token in ["abc", "a.b.c", "a.b", &"x".repeat(10_000)] {
        assert!(matches!(check(token, b"", NOW), Err(SignatureError::Malformed(_))), "{token:.20}");
    }
}

#[test]
fn another_algorithm_is_malformed() {
    let token = signed(b"x");
    let (_, rest) = token.split_once('.').unwrap();
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    assert!(matches!(check(&format!("{none_header}.{rest}"), b"x", NOW), Err(SignatureError::Malformed(_))));
}

#[test]
fn a_tampered_payload_has_a_bad_signature() {
    let token = signed(b"x");
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = decode_part(&token, 1);
    claims["sub"] = json!("https://evil.example/");
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    assert_eq!(check(&forged, b"x", NOW), Err(SignatureError::BadSignature));
}

#[test]
fn a_truncated_signature_is_a_bad_signature() {
    let token = signed(b"x");
    assert_eq!(check(&token[..token.len() - 4], b"x", NOW), Err(SignatureError::BadSignature));
}

#[test]
fn an_unknown_key_is_a_bad_signature() {
    let token = sign(&SigningKey::new("sig_someone_else"), request(b"x", "jwt_1")).unwrap();
    assert_eq!(check(&token, b"x", NOW), Err(SignatureError::BadSignature));
}

#[test]
fn the_next_key_is_accepted_during_rotation() {
    let token = sign(&SigningKey::new(NEXT), request(b"x", "jwt_1")).unwrap();
    assert_eq!(check(&token, b"x", NOW).unwrap().key, KeyUsed::Next);
}

#[test]
fn without_a_next_key_only_the_current_key_verifies() {
    let token = sign(&SigningKey::new(NEXT), request(b"x", "jwt_1")).unwrap();
    let only_current = Keys { current: SigningKey::new(CURRENT), next: None };
    let store = MemorySeenJtiStore::default();
    assert_eq!(
        block_on(verify(&only_current, Some(&token), URL, b"x", NOW, &store)),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn an_expired_token_is_refused_after_the_leeway() {
    let token = signed(b"x");
    let expires_at = NOW + 300;
    assert!(check(&token, b"x", expires_at + CLOCK_LEEWAY_SECS).is_ok());
    assert_eq!(
        check(&token, b"x", expires_at + CLOCK_LEEWAY_SECS + 1),
        Err(SignatureError::Expired { expires_at, now: expires_at + CLOCK_LEEWAY_SECS + 1 })
    );
}

#[test]
fn a_token_from_the_future_is_not_yet_valid_beyond_the_leeway() {
    let token = signed(b"x");
    assert!(check(&token, b"x", NOW - CLOCK_LEEWAY_SECS).is_ok());
    assert_eq!(
        check(&token, b"x", NOW - CLOCK_LEEWAY_SECS - 1),
        Err(SignatureError::NotYetValid { not_before: NOW, now: NOW - CLOCK_LEEWAY_SECS - 1 })
    );
}

#[test]
fn an_iat_in_the_future_is_not_yet_valid_even_with_an_early_nbf() {
    let mut future_iat = claims(NOW + 120, NOW + 300);
    future_iat["nbf"] = json!(NOW - 10);
    assert_eq!(
        check(&hand_made_token(CURRENT, future_iat), b"{}", NOW),
        Err(SignatureError::NotYetValid { not_before: NOW + 120, now: NOW })
    );
}

#[test]
fn a_lifetime_over_five_minutes_is_refused() {
    let token = hand_made_token(CURRENT, claims(NOW, NOW + 301));
    assert_eq!(check(&token, b"{}", NOW), Err(SignatureError::LifetimeTooLong { lifetime_secs: 301 }));
    assert!(check(&hand_made_token(CURRENT, claims(NOW, NOW + 300)), b"{}", NOW).is_ok());
}

#[test]
fn missing_time_claims_are_malformed() {
    for claim in ["iat", "nbf", "exp"] {
        let mut partial = claims(NOW, NOW + 300);
        partial.as_object_mut().unwrap().remove(claim);
        assert!(
            matches!(check(&hand_made_token(CURRENT, partial), b"{}", NOW), Err(SignatureError::Malformed(m)) if m.contains(claim)),
            "{claim}"
        );
    }
}

#[test]
fn missing_custom_claims_are_malformed() {
    let mut partial = claims(NOW, NOW + 300);
    partial.as_object_mut().unwrap().remove("body");
    assert!(matches!(check(&hand_made_token(CURRENT, partial), b"{}", NOW), Err(SignatureError::Malformed(_))));
}

#[test]
fn a_token_for_another_url_is_the_wrong_subject() {
    let token = sign(
        &SigningKey::new(CURRENT),
        SignRequest { url: "https://spin.example/api/other", ..request(b"x", "jwt_1") },
    )
    .unwrap();
    assert_eq!(
        check(&token, b"x", NOW),
        Err(SignatureError::WrongSubject { subject: "https://spin.example/api/other".into(), url: URL.into() })
    );
}

#[test]
fn a_different_body_is_a_body_mismatch() {
    assert_eq!(check(&signed(b"{\"amount\":100}"), b"{\"amount\":999}", NOW), Err(SignatureError::BodyMismatch));
}

#[test]
fn a_second_delivery_of_the_same_token_is_replayed() {
    let store = MemorySeenJtiStore::default();
    let token = signed(b"x");
    assert!(block_on(verify(&keys(), Some(&token), URL, b"x", NOW, &store)).is_ok());
    assert_eq!(
        block_on(verify(&keys(), Some(&token), URL, b"x", NOW + 1, &store)),
        Err(SignatureError::Replayed { jti: "jwt_1".into() })
    );
}

#[test]
fn the_jti_is_remembered_until_the_token_can_no_longer_pass() {
    let store = MemorySeenJtiStore::default();
    block_on(verify(&keys(), Some(&signed(b"x")), URL, b"x", NOW, &store)).unwrap();
    assert_eq!(store.seen.borrow()["jwt_1"], NOW + 300 + CLOCK_LEEWAY_SECS);
}

#[test]
fn a_rejected_request_does_not_consume_its_jti() {
    let store = MemorySeenJtiStore::default();
    let token = signed(b"x");
    assert_eq!(
        block_on(verify(&keys(), Some(&token), URL, b"tampered", NOW, &store)),
        Err(SignatureError::BodyMismatch)
    );
    assert!(store.seen.borrow().is_empty());
    assert!(block_on(verify(&keys(), Some(&token), URL, b"x", NOW, &store)).is_ok());
}

#[test]
fn a_failing_replay_store_refuses_the_request() {
    assert_eq!(
        block_on(verify(&keys(), Some(&signed(b"x")), URL, b"x", NOW, &FailingStore)),
        Err(SignatureError::Store(StoreError("redis down".into())))
    );
}

#[test]
fn an_out_of_range_clock_is_reported_not_panicked() {
    assert_eq!(
        sign(&SigningKey::new(CURRENT), SignRequest { now: i64::MAX, ..request(b"", "j") }),
        Err(SignError::ClockOutOfRange(i64::MAX))
    );
    assert_eq!(check(&signed(b"x"), b"x", i64::MIN), Err(SignatureError::ClockOutOfRange(i64::MIN)));
}

#[test]
fn jti_from_random_bytes_is_prefixed_and_url_safe() {
    let jti = jti_from_random([0xfb; 16]);
    assert!(jti.starts_with("jwt_"));
    assert_eq!(jti.len(), 4 + 22);
    assert!(jti[4..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_ne!(jti_from_random([1; 16]), jti_from_random([2; 16]));
}

#[test]
fn signing_keys_do_not_print_their_secret() {
    assert!(!format!("{:?}", keys()).contains("sig_"));
}

proptest! {
    #[test]
    fn any_body_signed_verifies(body in prop::collection::vec(any::<u8>(), 0..512), skew in -30i64..=330) {
        let token = sign(&SigningKey::new(CURRENT), request(&body, "jwt_p")).unwrap();
        prop_assert!(check(&token, &body, NOW + skew).is_ok());
    }

    #[test]
    fn any_single_byte_change_to_the_body_fails(
        body in prop::collection::vec(any::<u8>(), 1..256),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let token = sign(&SigningKey::new(CURRENT), request(&body, "jwt_p")).unwrap();
        let mut tampered = body.clone();
        tampered[index.index(body.len())] ^= flip;
        prop_assert_eq!(check(&token, &tampered, NOW), Err(SignatureError::BodyMismatch));
    }

    #[test]
    fn any_single_character_change_to_the_token_fails(
        index in any::<prop::sample::Index>(),
        replacement in "[A-Za-z0-9_.-]",
    ) {
        let token = signed(b"x");
        let at = index.index(token.len());
        let mut chars: Vec<char> = token.chars().collect();
        let replacement = replacement.chars().next().unwrap();
        prop_assume!(chars[at] != replacement);
        chars[at] = replacement;
        let tampered: String = chars.into_iter().collect();
        prop_assert!(check(&tampered, b"x", NOW).is_err());
    }
}
