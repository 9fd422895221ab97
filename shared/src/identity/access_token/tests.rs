use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_compact::Algorithm as _;
use proptest::prelude::*;
use serde_json::json;

use super::*;

const NOW: i64 = 1_795_000_000;
const SEED: [u8; 32] = [42; 32];

fn issuer() -> AccessTokenIssuer {
    AccessTokenIssuer::from_seed(SEED, "id-2026-01")
}

fn verifier() -> AccessTokenVerifier {
    AccessTokenVerifier::from_jwks(&Jwks::new(vec![issuer().jwk()])).unwrap()
}

fn vendor_admin() -> Identity {
    Identity::new(
        "usr_01JD8Z6X1K9Q2W3E4R5T6Y7U8I",
        vec![RoleGrant::customer(), RoleGrant::new(Role::VendorAdmin, Some("ven_7".into())).unwrap()],
    )
    .unwrap()
}

fn decode_part(token: &str, index: usize) -> serde_json::Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Assembled and signed by hand, bypassing jwt-compact's encoder.
fn hand_made(header: serde_json::Value, claims: serde_json::Value, seed: [u8; 32]) -> String {
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = EdDsa.sign(&EdSigningKey::from_seed(seed), signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(jwt_compact::AlgorithmSignature::as_bytes(&signature)))
}

fn claims() -> serde_json::Value {
    json!({
        "iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE, "sub": "usr_1", "role": "vendor_admin",
        "vendor_id": "ven_7", "scope": "customer vendor_admin", "iat": NOW, "exp": NOW + 900, "jti": "atk_1",
    })
}

fn header() -> serde_json::Value {
    json!({"alg": "EdDSA", "kid": "id-2026-01", "typ": "JWT"})
}

#[test]
fn token_carries_the_documented_header_and_claims() {
    let token = issuer().issue(&vendor_admin(), NOW, "atk_1").unwrap();
    assert_eq!(decode_part(&token, 0), json!({"alg": "EdDSA", "kid": "id-2026-01", "typ": "JWT"}));
    assert_eq!(
        decode_part(&token, 1),
        json!({
            "iss": "marketplace-identity", "aud": "marketplace-api",
            "sub": "usr_01JD8Z6X1K9Q2W3E4R5T6Y7U8I", "role": "vendor_admin", "vendor_id": "ven_7",
            "scope": "customer vendor_admin", "iat": NOW, "exp": NOW + 900, "jti": "atk_1",
        })
    );
}

#[test]
fn issued_token_verifies_to_the_same_identity() {
    let token = issuer().issue(&vendor_admin(), NOW, "atk_1").unwrap();
    assert_eq!(
        verifier().verify(&token, NOW + 60),
        Ok(VerifiedIdentity {
            user_id: "usr_01JD8Z6X1K9Q2W3E4R5T6Y7U8I".into(),
            role: Role::VendorAdmin,
            vendor_id: Some("ven_7".into()),
            roles: vec![Role::Customer, Role::VendorAdmin],
            jti: "atk_1".into(),
            issued_at: NOW,
            expires_at: NOW + ACCESS_TOKEN_TTL_SECS,
        })
    );
}

#[test]
fn customer_token_has_no_vendor_id() {
    let customer = Identity::new("usr_2", vec![RoleGrant::customer()]).unwrap();
    let token = issuer().issue(&customer, NOW, "atk_2").unwrap();
    assert!(decode_part(&token, 1).get("vendor_id").is_none());
    let verified = verifier().verify(&token, NOW).unwrap();
    assert_eq!((verified.role, verified.vendor_id.as_deref()), (Role::Customer, None));
    assert!(verified.has_role(Role::Customer) && !verified.has_any_role(&[Role::PlatformAdmin]));
}

#[test]
fn hand_made_token_verifies_so_the_format_is_plain_jwt() {
    let token = hand_made(header(), claims(), SEED);
    assert_eq!(verifier().verify(&token, NOW).unwrap().role, Role::VendorAdmin);
}

#[test]
fn expiry_allows_the_leeway_and_no_more() {
    let token = issuer().issue(&vendor_admin(), NOW, "atk_1").unwrap();
    let last_second = NOW + ACCESS_TOKEN_TTL_SECS + CLOCK_LEEWAY_SECS;
    assert!(verifier().verify(&token, last_second).is_ok());
    assert_eq!(
        verifier().verify(&token, last_second + 1),
        Err(TokenError::Expired { expires_at: NOW + ACCESS_TOKEN_TTL_SECS, now: last_second + 1 })
    );
}

#[test]
fn token_from_the_future_is_not_yet_valid() {
    let token = issuer().issue(&vendor_admin(), NOW, "atk_1").unwrap();
    assert!(verifier().verify(&token, NOW - CLOCK_LEEWAY_SECS).is_ok());
    assert_eq!(
        verifier().verify(&token, NOW - CLOCK_LEEWAY_SECS - 1),
        Err(TokenError::NotYetValid { issued_at: NOW, now: NOW - CLOCK_LEEWAY_SECS - 1 })
    );
}

#[test]
fn other_issuers_and_audiences_are_refused() {
    let token = issuer().with_issuer("someone-else").issue(&vendor_admin(), NOW, "atk_1").unwrap();
    assert_eq!(verifier().verify(&token, NOW), Err(TokenError::WrongIssuer { issuer: "someone-else".into() }));
    let token = issuer().with_audience("payments-only").issue(&vendor_admin(), NOW, "atk_1").unwrap();
    assert_eq!(verifier().verify(&token, NOW), Err(TokenError::WrongAudience));
    assert!(verifier().with_audience("payments-only").verify(&token, NOW).is_ok());
}

#[test]
fn audience_may_be_a_list() {
    let mut claims = claims();
    claims["aud"] = json!(["other", DEFAULT_AUDIENCE]);
    assert!(verifier().verify(&hand_made(header(), claims, SEED), NOW).is_ok());
}

#[test]
fn unknown_or_missing_kid_is_unknown_key() {
    let token = AccessTokenIssuer::from_seed(SEED, "retired").issue(&vendor_admin(), NOW, "atk_1").unwrap();
    assert_eq!(verifier().verify(&token, NOW), Err(TokenError::UnknownKey { kid: Some("retired".into()) }));
    let token = hand_made(json!({"alg": "EdDSA", "typ": "JWT"}), claims(), SEED);
    assert_eq!(verifier().verify(&token, NOW), Err(TokenError::UnknownKey { kid: None }));
}

#[test]
fn another_key_under_a_known_kid_is_a_bad_signature() {
    let forged = AccessTokenIssuer::from_seed([1; 32], "id-2026-01").issue(&vendor_admin(), NOW, "atk_1").unwrap();
    assert_eq!(verifier().verify(&forged, NOW), Err(TokenError::BadSignature));
}

#[test]
fn edited_claims_break_the_signature() {
    let token = issuer().issue(&vendor_admin(), NOW, "atk_1").unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = decode_part(&token, 1);
    claims["role"] = json!("platform_admin");
    claims["scope"] = json!("customer vendor_admin platform_admin");
    let edited = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    assert_eq!(verifier().verify(&edited, NOW), Err(TokenError::BadSignature));
}

#[test]
fn other_algorithms_and_garbage_are_malformed() {
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": "id-2026-01"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims().to_string())
    );
    assert!(matches!(verifier().verify(&unsigned, NOW), Err(TokenError::Malformed(_))));
    let hs256 = hand_made(json!({"alg": "HS256", "kid": "id-2026-01"}), claims(), SEED);
    assert!(matches!(verifier().verify(&hs256, NOW), Err(TokenError::Malformed(_))));
    assert!(matches!(verifier().verify("not-a-jwt", NOW), Err(TokenError::Malformed(_))));
    assert!(matches!(verifier().verify(&"a".repeat(5000), NOW), Err(TokenError::Malformed(_))));
}

#[test]
fn signed_but_inconsistent_claims_are_malformed() {
    let cases = [
        ("role", json!("platform_admin")),
        ("scope", json!("customer vendor_admin root")),
        ("vendor_id", json!(null)),
        ("sub", json!("ven_7")),
        ("sub", json!("usr_")),
        ("sub", json!("usr_1 OR 1=1")),
        ("vendor_id", json!("ven_1/../x")),
        ("jti", json!("")),
    ];
    for (claim, value) in cases {
        let mut claims = claims();
        claims[claim] = value;
        let result = verifier().verify(&hand_made(header(), claims, SEED), NOW);
        assert!(matches!(result, Err(TokenError::Malformed(_))), "{claim}: {result:?}");
    }
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert!(matches!(verifier().verify(&hand_made(header(), no_exp, SEED), NOW), Err(TokenError::Malformed(_))));
}

#[test]
fn verifier_accepts_every_key_in_the_jwks_for_rotation() {
    let next = AccessTokenIssuer::from_seed([8; 32], "id-2026-02");
    let verifier = AccessTokenVerifier::from_jwks(&Jwks::new(vec![issuer().jwk(), next.jwk()])).unwrap();
    for issuer in [issuer(), next] {
        assert!(verifier.verify(&issuer.issue(&vendor_admin(), NOW, "atk_1").unwrap(), NOW).is_ok());
    }
}

#[test]
fn jwks_must_be_non_empty_with_unique_kids() {
    assert_eq!(AccessTokenVerifier::from_jwks(&Jwks::new(vec![])).unwrap_err(), JwkError::NoKeys);
    let twice = Jwks::new(vec![issuer().jwk(), issuer().jwk()]);
    assert_eq!(AccessTokenVerifier::from_jwks(&twice).unwrap_err(), JwkError::DuplicateKid("id-2026-01".into()));
}

#[test]
fn issuing_needs_a_jti_and_a_representable_time() {
    assert_eq!(issuer().issue(&vendor_admin(), NOW, ""), Err(IssueError::EmptyJti));
    assert_eq!(issuer().issue(&vendor_admin(), i64::MAX, "j"), Err(IssueError::ClockOutOfRange(i64::MAX)));
}

#[test]
fn errors_map_to_their_api_codes() {
    let cases = [
        (TokenError::Missing, ErrorCode::TokenMissing),
        (TokenError::Malformed("x".into()), ErrorCode::TokenInvalid),
        (TokenError::UnknownKey { kid: None }, ErrorCode::TokenInvalid),
        (TokenError::BadSignature, ErrorCode::TokenInvalid),
        (TokenError::NotYetValid { issued_at: 2, now: 1 }, ErrorCode::TokenInvalid),
        (TokenError::Expired { expires_at: 1, now: 2 }, ErrorCode::TokenExpired),
        (TokenError::WrongIssuer { issuer: "x".into() }, ErrorCode::TokenWrongAudience),
        (TokenError::WrongAudience, ErrorCode::TokenWrongAudience),
    ];
    for (error, code) in cases {
        assert_eq!(error.error_code(), code);
        assert_eq!(error.to_api_error().status(), 401);
    }
}

#[test]
fn bearer_header_parsing() {
    assert_eq!(bearer_token(None), Err(TokenError::Missing));
    assert_eq!(bearer_token(Some("  ")), Err(TokenError::Missing));
    assert_eq!(bearer_token(Some("Bearer abc.def.ghi")), Ok("abc.def.ghi"));
    assert_eq!(bearer_token(Some("bearer  abc ")), Ok("abc"));
    assert!(matches!(bearer_token(Some("Basic dXNlcg==")), Err(TokenError::Malformed(_))));
    assert!(matches!(bearer_token(Some("abc")), Err(TokenError::Malformed(_))));
}

#[test]
fn issuer_debug_hides_the_key() {
    let debug = format!("{:?}", issuer());
    assert!(debug.contains("id-2026-01") && !debug.contains("42"));
}

fn any_identity() -> impl Strategy<Value = Identity> {
    let role = prop::sample::select(Role::ALL.to_vec());
    (prop::collection::vec(role, 1..4), "[a-z0-9]{1,20}", "[A-Z0-9]{26}").prop_map(|(roles, vendor, user)| {
        let grants = roles
            .into_iter()
            .map(|role| RoleGrant::new(role, role.is_vendor_role().then(|| format!("ven_{vendor}"))).unwrap())
            .collect();
        Identity::new(format!("usr_{user}"), grants).unwrap()
    })
}

proptest! {
    #[test]
    fn any_identity_round_trips(identity in any_identity(), now in 0i64..4_000_000_000, seed: [u8; 32]) {
        let issuer = AccessTokenIssuer::from_seed(seed, "k");
        let verifier = AccessTokenVerifier::from_jwks(&Jwks::new(vec![issuer.jwk()])).unwrap();
        let verified = verifier.verify(&issuer.issue(&identity, now, "atk_x").unwrap(), now).unwrap();
        prop_assert_eq!(verified.user_id.as_str(), identity.user_id());
        prop_assert_eq!(verified.role, identity.primary_role());
        prop_assert_eq!(verified.roles, identity.roles());
        prop_assert_eq!(verified.vendor_id.as_deref(), identity.vendor_id());
    }
}
