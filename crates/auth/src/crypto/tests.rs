//! Vectors below were computed by the real `better-auth@1.4.9` (and its `better-call`, `jose`, `@noble/*`
//! dependencies) under Node; most come from `shared/spec/vectors/better-auth-1.4.9-test-vectors.json`, the
//! others were produced the same way while writing this module (each says so).

use std::collections::VecDeque;

use database::SeededEntropy;
use parking_lot::Mutex;

use super::*;

/// The secret every recorded vector uses.
const SECRET: &str = "better-auth-transcript-secret-0123456789abcdef";

fn secret() -> Secret {
    Secret::new(SECRET.to_owned())
}

/// Entropy that hands out a fixed script of bytes and fails the test if asked for more.
struct Scripted(Mutex<VecDeque<u8>>);

impl Scripted {
    fn new(bytes: &[u8]) -> Self {
        Scripted(Mutex::new(bytes.iter().copied().collect()))
    }

    fn remaining(&self) -> usize {
        self.0.lock().len()
    }
}

impl Entropy for Scripted {
    fn fill(&self, out: &mut [u8]) {
        let mut script = self.0.lock();
        for byte in out.iter_mut() {
            *byte = script.pop_front().expect("the test script ran out of random bytes");
        }
    }
}

fn unhex(text: &str) -> Vec<u8> {
    hex_decode(text).expect("test vector is hex")
}

// ---------------------------------------------------------------------------------------------------------------
// Secret, primitives
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn secret_debug_never_prints_the_secret() {
    let printed = format!("{:?}", secret());
    assert!(!printed.contains("transcript"), "{printed}");
    assert_eq!(printed, "Secret(<redacted>)");
    assert_eq!(secret().as_bytes(), SECRET.as_bytes());
}

#[test]
fn constant_time_eq_compares_contents_and_lengths() {
    assert!(constant_time_eq(b"", b""));
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
    assert!(!constant_time_eq(b"", b"a"));
}

#[test]
fn hex_round_trips_and_rejects_what_noble_rejects() {
    assert_eq!(hex_encode(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    assert_eq!(hex_encode(&[]), "");
    assert_eq!(hex_decode("000fa0ff"), Some(vec![0x00, 0x0f, 0xa0, 0xff]));
    assert_eq!(hex_decode("000FA0FF"), Some(vec![0x00, 0x0f, 0xa0, 0xff]), "either case, as hexToBytes");
    assert_eq!(hex_decode(""), Some(vec![]));
    assert_eq!(hex_decode("abc"), None, "odd length");
    assert_eq!(hex_decode("zz"), None);
    assert_eq!(hex_decode("0x"), None);
    assert_eq!(hex_decode("é0"), None, "non-ASCII");
}

#[test]
fn hmac_handles_keys_longer_than_a_block() {
    // Node: makeSignature("value", "x".repeat(100) + "-long-secret-€") (a 116-byte key is hashed first).
    let long = Secret::new(format!("{}-long-secret-€", "x".repeat(100)));
    assert_eq!(STANDARD.encode(hmac_sha256(&long, b"value")), "tzj3gvhnWTk30K+/vIWyxrmO+M8ibcOAfEHUCWYFDVs=");
    // A key of exactly 64 bytes is used as is; one of 65 is hashed: they must differ from their neighbours.
    let k64 = Secret::new("k".repeat(64));
    let k65 = Secret::new("k".repeat(65));
    assert_ne!(hmac_sha256(&k64, b"m"), hmac_sha256(&k65, b"m"));
    assert_eq!(hmac_sha256(&k64, b"m"), hmac_sha256_reference(&"k".repeat(64), b"m"));
    assert_eq!(hmac_sha256(&k65, b"m"), hmac_sha256_reference(&"k".repeat(65), b"m"));
}

/// The `hmac` crate's own variable-length constructor, as an oracle for the block-size shortcut.
fn hmac_sha256_reference(key: &str, message: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as hmac::digest::KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().into()
}

// ---------------------------------------------------------------------------------------------------------------
// Passwords
// ---------------------------------------------------------------------------------------------------------------

/// `passwordFixedSalt`: (password, stored hash). The salt is the text before `:`.
const FIXED_SALT_VECTORS: [(&str, &str); 5] = [
    (
        "correct horse battery staple",
        "00112233445566778899aabbccddeeff:f5b22309b28fe412c82a4b2cab57498b8f8a42c849af16cb908974048f61c13933421858db3a8f111430bdc493c7cef90f61f904061c77206e3820a2e8b11bc2",
    ),
    (
        "password123",
        "a1b2c3d4e5f60718293a4b5c6d7e8f90:e3ba0f9a321ad0c072e74017e8592350306c6a54921f3dd87bc765329e801a64ddc03c5b1304423ecb8d8f35df5f2c10534f401dda08265e3bc3fc3dcb68a6c5",
    ),
    (
        "\u{dc}n\u{ef}c\u{f6}d\u{e9} p\u{e4}ssw\u{f6}rd \u{2713}",
        "ffeeddccbbaa99887766554433221100:32048ced4b80629adcfc3cbdc4559f80139243d42fb091cd867682171ec982aeed7d215222db01e4c2a34a8016144fd6bda18c5b281db8ecba15645acf6afa17",
    ),
    (
        // Full-width; NFKC makes it "Password123", hence the same key as the next vector.
        "\u{ff30}\u{ff41}\u{ff53}\u{ff53}\u{ff57}\u{ff4f}\u{ff52}\u{ff44}\u{ff11}\u{ff12}\u{ff13}",
        "0123456789abcdef0123456789abcdef:59aabb650e93c219fe9f4437f6becb8e4d1eecc6a3cb2a1c78760848b2f509181514567838dc39cb7a151323f7a53c7cbccf402becd6253507c63faf844d7ee6",
    ),
    (
        "Password123",
        "0123456789abcdef0123456789abcdef:59aabb650e93c219fe9f4437f6becb8e4d1eecc6a3cb2a1c78760848b2f509181514567838dc39cb7a151323f7a53c7cbccf402becd6253507c63faf844d7ee6",
    ),
];

/// `passwordLibraryGenerated`: hashes made by better-auth's `hashPassword` with random salts.
const LIBRARY_VECTORS: [(&str, &str); 3] = [
    (
        "correct horse battery staple",
        "5239b365fa432b97470a25951129e6dd:8c19d9b045488a7f6a2970d4b7e1f58d8c857d6fee3fb90819d8be8dfcd5c3baa558709ce0bc6c1fbc70cdb962b2bcdb7b753b76960d1653f5c352cdb575a798",
    ),
    (
        "hunter2hunter2",
        "af8b0623bc75a4655bad49bfa9b95381:63b2c9e22500cfb6af8e3047540cf97c28eda3fec05b1d348ceb8b5f25ee74db1d480411fb997ec61b3103efc42ed0528665558d8fac3b2589c3f3d665d18425",
    ),
    (
        "p@ssw0rd-\u{c4}\u{d6}\u{dc}",
        "5a6a2c4f875640e615ab334da591068b:fccebf8fa2270f36b81e3ae72764c07e016d0f91e02546dda3f66f20a1f809a5509ff5e0d2d7ee2bc10c0714789db92dc390fe73855d5c4010123c117c734e03",
    ),
];

fn assert_hash_shape(hash: &str) {
    assert_eq!(hash.len(), 161, "{hash}");
    let (salt, key) = hash.split_once(':').expect("salt:key");
    assert_eq!(salt.len(), 32);
    assert_eq!(key.len(), 128);
    assert!(
        hash.bytes().all(|b| b == b':' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "lowercase hex only: {hash}"
    );
}

#[test]
fn hashing_with_the_vectors_salt_reproduces_better_auths_hash() {
    // The salt is the hex text of 16 random bytes: feed those bytes and the whole stored string must come out.
    for (password, stored) in FIXED_SALT_VECTORS {
        let salt = stored.split_once(':').unwrap().0;
        let entropy = Scripted::new(&unhex(salt));
        let hash = hash_password(password, &entropy);
        assert_eq!(hash, stored, "password {password:?}");
        assert_eq!(entropy.remaining(), 0, "exactly 16 salt bytes are drawn");
    }
}

#[test]
fn hashes_made_by_better_auth_verify() {
    for (password, stored) in FIXED_SALT_VECTORS.iter().skip(3).chain(LIBRARY_VECTORS.iter()) {
        assert!(verify_password(stored, password), "password {password:?}");
    }
    // NFKC: the full-width password verifies against the hash of its ASCII form, and vice versa.
    assert!(verify_password(FIXED_SALT_VECTORS[4].1, FIXED_SALT_VECTORS[3].0));
    assert!(verify_password(FIXED_SALT_VECTORS[2].1, FIXED_SALT_VECTORS[2].0));
}

#[test]
fn wrong_passwords_are_rejected() {
    // better-auth's vectors check that password + "x" is rejected.
    assert!(!verify_password(LIBRARY_VECTORS[1].1, "hunter2hunter2x"));
    assert!(!verify_password(FIXED_SALT_VECTORS[0].1, "correct horse battery staplex"));
    // Case matters (NFKC does not fold case).
    assert!(!verify_password(FIXED_SALT_VECTORS[4].1, "password123"));
}

#[test]
fn our_hashes_have_better_auths_shape_and_verify() {
    let entropy = SeededEntropy::new(11);
    let hash = hash_password("Ｐａｓｓｗｏｒｄ１２３", &entropy);
    assert_hash_shape(&hash);
    assert!(verify_password(&hash, "Password123"), "hashed after NFKC");
    let other = hash_password("Ｐａｓｓｗｏｒｄ１２３", &entropy);
    assert_ne!(hash, other, "a fresh salt each time");
}

#[test]
fn salt_is_used_as_text_whatever_it_contains() {
    // Node: scryptAsync("pw-12345678", "not hex salt!", {N:16384,r:16,p:1,dkLen:64}); better-auth's verifyPassword
    // accepts it, with the key in upper case and with a third `:` part too.
    let key = "f60ba68fd2c92cf5c52063d09f6252f84ac99f00d4a9798151dc6fbcf90e0cdcc69d8131ece1ca11bc85ec31a49f3a8b301c0aa19a8f7c40aa795175b952df11";
    assert!(verify_password(&format!("not hex salt!:{key}"), "pw-12345678"));
    assert!(verify_password(&format!("not hex salt!:{}:ignored", key.to_uppercase()), "pw-12345678"));
}

#[test]
fn malformed_hashes_are_false_not_errors() {
    let (_, key) = FIXED_SALT_VECTORS[0].1.split_once(':').unwrap();
    let password = FIXED_SALT_VECTORS[0].0;
    for hash in [
        String::new(),
        "no-colon-at-all".to_owned(),
        format!(":{key}"),                                             // empty salt (JS throws)
        "00112233445566778899aabbccddeeff:".to_owned(),                // empty key (JS throws)
        format!("00112233445566778899aabbccddeeff:{}", &key[..127]),   // odd length (JS throws)
        format!("00112233445566778899aabbccddeeff:{}zz", &key[..126]), // not hex (JS throws)
        format!("00112233445566778899aabbccddeeff:{}", &key[..126]),   // 63 bytes: never equal
        format!("00112233445566778899aabbccddeeff:{key}00"),           // 65 bytes: never equal
        format!("00112233445566778899aabbccddeeff;{key}"),             // wrong separator
    ] {
        assert!(!verify_password(&hash, password), "{hash:?}");
    }
}

#[test]
fn password_length_counts_utf16_code_units_of_the_raw_input() {
    assert_eq!(password_length(""), 0);
    assert_eq!(password_length("1234567"), 7, "one below the default minimum");
    assert_eq!(password_length("12345678"), 8);
    assert_eq!(password_length(&"a".repeat(128)), 128);
    assert_eq!(password_length(&"a".repeat(129)), 129, "one above the default maximum");
    assert_eq!(password_length("\u{1F600}"), 2, "astral characters count 2, as JS .length");
    assert_eq!(password_length("\u{e9}"), 1);
    assert_eq!(password_length("e\u{301}"), 2, "not normalised before counting");
    assert_eq!(password_length("ﬁ"), 1, "ligature counts 1 although NFKC makes it 'fi'");
    assert_eq!(password_length(FIXED_SALT_VECTORS[3].0), 11);
    assert_eq!(password_length("€uro"), 4, "UTF-16 units, not UTF-8 bytes");
}

// ---------------------------------------------------------------------------------------------------------------
// Cookie signatures
// ---------------------------------------------------------------------------------------------------------------

/// (value, signature) with the test secret: the spec example, the sign-up transcript, dont_remember, and two
/// computed with better-auth's `makeSignature` for this module (empty and non-ASCII value).
const SIGNATURE_VECTORS: [(&str, &str); 5] = [
    ("AbCdEfGhIjKlMnOpQrStUvWxYz012345", "RnrGjeaza1zSOxki9e1oWZ3iiStLCrc15rOvrhUxatw="),
    ("XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ", "6CnuL1BHkf96xZrsCUkZ2dHrH1Ox0K3QfgRDqHdjr58="),
    ("true", "Im3rq1kDtcvbxKT/BOM0kLi4JaKpcy/YWjjL5+gwwxg="),
    ("", "10Dy5TRRF1/KmPDOa4D0wEqAQLuJzUw1sPjuNO23vks="),
    ("€ unicode", "pzXedREzZX9b9oZDUCYBvcPjM8rEly8jCIKiUy8pEco="),
];

#[test]
fn signatures_match_better_auth() {
    for (value, signature) in SIGNATURE_VECTORS {
        assert_eq!(sign_cookie_value(value, &secret()), format!("{value}.{signature}"));
    }
}

#[test]
fn signed_values_verify_and_return_the_value() {
    for (value, _) in SIGNATURE_VECTORS.iter().filter(|(value, _)| !value.is_empty()) {
        let signed = sign_cookie_value(value, &secret());
        assert_eq!(verify_signed_value(&signed, &secret()).as_deref(), Some(*value));
    }
    // Dots in the value: the signature is after the last one.
    let signed = sign_cookie_value("a.b.c", &secret());
    assert_eq!(verify_signed_value(&signed, &secret()).as_deref(), Some("a.b.c"));
}

#[test]
fn hostile_signed_values_are_refused() {
    let good = "AbCdEfGhIjKlMnOpQrStUvWxYz012345.RnrGjeaza1zSOxki9e1oWZ3iiStLCrc15rOvrhUxatw=";
    assert!(verify_signed_value(good, &secret()).is_some());
    let refused = [
        // The recorded tampered cookie: value changed, signature kept.
        "XXXXEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ.6CnuL1BHkf96xZrsCUkZ2dHrH1Ox0K3QfgRDqHdjr58=".to_owned(),
        // The recorded bare unsigned token.
        "XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ".to_owned(),
        // Signature of another value.
        "AbCdEfGhIjKlMnOpQrStUvWxYz012345.6CnuL1BHkf96xZrsCUkZ2dHrH1Ox0K3QfgRDqHdjr58=".to_owned(),
        // One signature character changed where it matters.
        good.replace("Rnr", "Rns"),
        // 43 and 45 characters, no trailing '=', '==' padding.
        good.trim_end_matches('=').to_owned(),
        format!("{good}="),
        good.replace("atw=", "atwA"),
        good.replace("xatw=", "xa==="),
        // Empty value before the dot (better-call requires the dot at index >= 1), even correctly signed.
        sign_cookie_value("", &secret()),
        ".RnrGjeaza1zSOxki9e1oWZ3iiStLCrc15rOvrhUxatw=".to_owned(),
        // Not base64 at all, same length.
        format!("AbCdEfGhIjKlMnOpQrStUvWxYz012345.{}=", "!".repeat(43)),
        // Percent-encoded signature: callers must decode first.
        "AbCdEfGhIjKlMnOpQrStUvWxYz012345.RnrGjeaza1zSOxki9e1oWZ3iiStLCrc15rOvrhUxatw%3D".to_owned(),
        String::new(),
        ".".to_owned(),
    ];
    for signed in &refused {
        assert_eq!(verify_signed_value(signed, &secret()), None, "{signed:?}");
    }
    let wrong = Secret::new("another-secret-another-secret-0123".to_owned());
    assert_eq!(verify_signed_value(good, &wrong), None);
}

#[test]
fn signature_trailing_bits_are_ignored_like_atob() {
    // Node: better-call's verifySignature accepts "...xatx=" (differs from "...xatw=" only in the 2 bits atob
    // discards) and refuses "...xatt=" / "...xatv=".
    let value = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
    assert!(verify_signed_value(&format!("{value}.RnrGjeaza1zSOxki9e1oWZ3iiStLCrc15rOvrhUxatx="), &secret()).is_some());
    for last in ["t", "v", "u"] {
        let signed = format!("{value}.RnrGjeaza1zSOxki9e1oWZ3iiStLCrc15rOvrhUxat{last}=");
        assert_eq!(verify_signed_value(&signed, &secret()), None, "{signed}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Ids and tokens
// ---------------------------------------------------------------------------------------------------------------

/// Draws a string from a byte script, padded with zeros to whole refills (`2 * len` bytes each).
fn check_random(alphabet: Alphabet, bytes: &[u8], len: usize, expected: &str) {
    let mut script = bytes.to_vec();
    script.resize(bytes.len().div_ceil(2 * len) * 2 * len, 0);
    let entropy = Scripted::new(&script);
    assert_eq!(random_string(len, alphabet, &entropy), expected, "{alphabet:?} from {bytes:?}");
}

#[test]
fn random_strings_map_bytes_in_better_auths_alphabet_order() {
    // a-z A-Z 0-9 (generateId).
    check_random(Alphabet::AlphaNumeric, &[0, 25, 26, 51, 52, 61], 6, "azAZ09");
    // a-z 0-9 A-Z - _ (generateRandomString).
    check_random(Alphabet::UrlSafe, &[0, 26, 35, 36, 62, 63], 6, "a09A-_");
    // 0-9 a-z (generateRandomString(n, "0-9", "a-z")).
    check_random(Alphabet::LowerAlphaNumeric, &[0, 9, 10, 35], 4, "09az");
    // Modulo above the alphabet size.
    check_random(Alphabet::AlphaNumeric, &[62, 123, 124, 247], 4, "a9a9");
    check_random(Alphabet::UrlSafe, &[64, 255], 2, "a_");
    check_random(Alphabet::LowerAlphaNumeric, &[36, 251], 2, "0z");
}

#[test]
fn random_strings_reject_bytes_that_would_bias() {
    // 62 symbols: 248..=255 are dropped; the buffer (2 * len bytes) is refilled when used up.
    check_random(Alphabet::AlphaNumeric, &[248, 255, 250, 251, 1, 2], 2, "bc");
    check_random(Alphabet::AlphaNumeric, &[248, 247, 249, 0], 2, "9a");
    // 36 symbols: 252..=255 are dropped, 251 is kept.
    check_random(Alphabet::LowerAlphaNumeric, &[252, 255, 251, 0], 2, "z0");
    // 64 symbols: nothing is dropped.
    check_random(Alphabet::UrlSafe, &[255, 248, 0, 0], 2, "_U");
}

#[test]
fn random_strings_draw_twice_the_length_per_refill() {
    let entropy = Scripted::new(&[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(random_string(3, Alphabet::AlphaNumeric, &entropy), "bcd");
    assert_eq!(entropy.remaining(), 2, "one fill of 6 bytes");
    let empty = Scripted::new(&[]);
    assert_eq!(random_string(0, Alphabet::AlphaNumeric, &empty), "", "nothing drawn for an empty string");
}

fn in_alphabet(text: &str, alphabet: Alphabet) -> bool {
    text.bytes().all(|b| alphabet.symbols().contains(&b))
}

#[test]
fn tokens_have_better_auths_lengths_and_alphabets() {
    let entropy = SeededEntropy::new(3);
    type Generator = fn(&dyn Entropy) -> String;
    let cases: [(Generator, usize, Alphabet); 7] = [
        (generate_id, 32, Alphabet::AlphaNumeric),
        (session_token, 32, Alphabet::AlphaNumeric),
        (reset_token, 24, Alphabet::AlphaNumeric),
        (oauth_state, 32, Alphabet::UrlSafe),
        (delete_account_token, 32, Alphabet::LowerAlphaNumeric),
        (pkce_verifier, 128, Alphabet::UrlSafe),
        (|entropy| random_string(7, Alphabet::UrlSafe, entropy), 7, Alphabet::UrlSafe),
    ];
    for (make, len, alphabet) in cases {
        let first = make(&entropy);
        let second = make(&entropy);
        assert_eq!(first.len(), len);
        assert!(in_alphabet(&first, alphabet), "{first}");
        assert_ne!(first, second);
    }
    // Samples the library produced (vectors `ids`) are in the alphabets we draw from.
    assert!(in_alphabet("14S4YQclqPsGwyczmvB51v1J2mYumXvB", Alphabet::AlphaNumeric));
    assert!(in_alphabet("eXxmnMhf5qVz6bGDfF41vMh6", Alphabet::AlphaNumeric));
    assert!(in_alphabet("9_kzEcEuZCO3BT7hFsL_wUK1AbnwK5Nx", Alphabet::UrlSafe));
    assert!(!in_alphabet("9_kzEcEuZCO3BT7hFsL_wUK1AbnwK5Nx", Alphabet::AlphaNumeric));
    assert!(in_alphabet("vyd5zockblqedn09sjt08dii3wzqtujh", Alphabet::LowerAlphaNumeric));
}

#[test]
fn seeded_tokens_are_reproducible() {
    assert_eq!(session_token(&SeededEntropy::new(42)), session_token(&SeededEntropy::new(42)));
    assert_ne!(session_token(&SeededEntropy::new(42)), session_token(&SeededEntropy::new(43)));
}

#[test]
fn pkce_challenges_match_the_vectors() {
    assert_eq!(
        pkce_challenge_s256(
            "dBjftJeZ4CVP-mJ92K9mIAJiWg3TIIJX6yNBSXRO7PodBjftJeZ4CVP-mJ92K9mIAJiWg3TIIJX6yNBSXRO7PodBjftJeZ4CVP-mJ92K9mIAJiWg3TIIJX6yNBSXRO7Po12345"
        ),
        "iWM5eZtoNx5dcwsVGvP0dZUSnskGl4goYZrGmMlix8E"
    );
    // Recorded: the stored codeVerifier and the code_challenge sent to GitHub.
    assert_eq!(
        pkce_challenge_s256(
            "SVt0Em5MSMYwf7AzKPI5BBgPSFVGl7hKaWcAmb8tr86XUrilluw58zk26vB4YX6Y3gXE7MFPpNWV71dJbnyAbRIsVf-Qdp2yVj32HwnvBKqiQ5Vt51Ek-q-mrlPDAaAL"
        ),
        "e0k35jYUtws_CYJdsN2qLYDPoZnAY3J4i3R6zV4Tj0s"
    );
    // Node: createHash("sha256").update(v).digest("base64url"), a 43-char verifier (the shortest PKCE allows).
    assert_eq!(
        pkce_challenge_s256("dBjftJeZ4CVP-mJ92K9mIAJiWg3TIIJX6yNBSXRO7Po"),
        "6uJjKEvM21kIG_PRtj5l1GYddqRb7onhXM-Pfisaf6M"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// JWTs
// ---------------------------------------------------------------------------------------------------------------

/// Vector 15.5: `{"email":"alice@example.com","iat":1893456000,"exp":4102444800}`.
const JWT_VECTOR: &str = "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImFsaWNlQGV4YW1wbGUuY29tIiwiaWF0IjoxODkzNDU2MDAwLCJleHAiOjQxMDI0NDQ4MDB9.5OhKdQoyh_DZ-I_wZc-RQhjI7YegO0JnEUMuomyOKw8";

/// Issued by better-auth's `signJWT` (vectors `libraryIssuedExample`): iat 1795846556, exp 1795850156.
const JWT_LIBRARY_ISSUED: &str = "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImFsaWNlQGV4YW1wbGUuY29tIiwiaWF0IjoxNzk1ODQ2NTU2LCJleHAiOjE3OTU4NTAxNTZ9.tsjOfe6u1Wmi6X4Q78nQhOCuCvOY5yPRz8pLKYsW34s";

/// Issued by better-auth's `signJWT` for this module with `updateTo` and `requestType`.
const JWT_CHANGE_EMAIL: &str = "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImFsaWNlQGV4YW1wbGUuY29tIiwidXBkYXRlVG8iOiJuZXdAZXhhbXBsZS5jb20iLCJyZXF1ZXN0VHlwZSI6ImNoYW5nZS1lbWFpbC12ZXJpZmljYXRpb24iLCJpYXQiOjE3OTU4NTQ3NzIsImV4cCI6MTg5MzQ1OTYwMH0.FGow3fjNHwqjqVas2hFRskzFuEF_oHVmpoYNwdW2UOE";

fn alice(iat: u64, exp: u64) -> EmailVerificationClaims {
    EmailVerificationClaims { email: "alice@example.com".to_owned(), update_to: None, request_type: None, iat, exp }
}

fn change_email_claims() -> EmailVerificationClaims {
    EmailVerificationClaims {
        email: "alice@example.com".to_owned(),
        update_to: Some("new@example.com".to_owned()),
        request_type: Some("change-email-verification".to_owned()),
        iat: 1_795_854_772,
        exp: 1_893_459_600,
    }
}

#[test]
fn email_verification_tokens_are_byte_identical_to_better_auths() {
    assert_eq!(sign_email_verification_jwt(&alice(1_893_456_000, 4_102_444_800), &secret()), JWT_VECTOR);
    assert_eq!(sign_email_verification_jwt(&alice(1_795_846_556, 1_795_850_156), &secret()), JWT_LIBRARY_ISSUED);
    assert_eq!(sign_email_verification_jwt(&change_email_claims(), &secret()), JWT_CHANGE_EMAIL);
    // The header is exactly {"alg":"HS256"} (no "typ").
    assert_eq!(URL_SAFE_NO_PAD.decode(JWT_VECTOR.split('.').next().unwrap()).unwrap(), br#"{"alg":"HS256"}"#);
}

#[test]
fn the_email_is_lowercased_when_issuing() {
    let shouting =
        EmailVerificationClaims { email: "ALICE@Example.COM".to_owned(), ..alice(1_893_456_000, 4_102_444_800) };
    assert_eq!(sign_email_verification_jwt(&shouting, &secret()), JWT_VECTOR);
    let claims = EmailVerificationClaims::new("Alice@Example.com", None, None, 1_893_456_000, 3600);
    assert_eq!(claims, alice(1_893_456_000, 1_893_459_600));
}

#[test]
fn email_verification_tokens_verify_until_exp() {
    assert_eq!(
        verify_email_verification_jwt(JWT_VECTOR, &secret(), 1_893_456_000),
        Ok(alice(1_893_456_000, 4_102_444_800))
    );
    assert_eq!(verify_email_verification_jwt(JWT_CHANGE_EMAIL, &secret(), 1_893_459_599), Ok(change_email_claims()));
    // jose: expired when exp <= now (Node: ok at 1893459599, JWTExpired at 1893459600 and after).
    assert_eq!(verify_email_verification_jwt(JWT_CHANGE_EMAIL, &secret(), 1_893_459_600), Err(JwtError::Expired));
    assert_eq!(
        verify_email_verification_jwt(JWT_LIBRARY_ISSUED, &secret(), 1_795_850_155),
        Ok(alice(1_795_846_556, 1_795_850_156))
    );
    assert_eq!(verify_email_verification_jwt(JWT_LIBRARY_ISSUED, &secret(), 1_795_850_156), Err(JwtError::Expired));
    assert_eq!(verify_email_verification_jwt(JWT_LIBRARY_ISSUED, &secret(), u64::MAX), Err(JwtError::Expired));
    // iat in the future is not checked (jose without maxTokenAge).
    assert!(verify_email_verification_jwt(JWT_VECTOR, &secret(), 0).is_ok());
}

/// Signs an arbitrary header and payload with the test secret, for hostile tokens.
fn forge(header: &str, payload: &str) -> String {
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(&secret(), signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

#[test]
fn hostile_tokens_are_invalid() {
    let now = 1_893_456_000;
    let [header, payload, signature]: [&str; 3] = JWT_VECTOR.split('.').collect::<Vec<_>>().try_into().unwrap();
    let expired_payload = URL_SAFE_NO_PAD.encode(r#"{"email":"alice@example.com","iat":1,"exp":2}"#);
    let invalid = [
        String::new(),
        "abc".to_owned(),
        format!("{header}.{payload}"),
        format!("{JWT_VECTOR}.extra"),
        format!("{header}.{payload}."),
        // Payload swapped, signature kept (also: an expired payload with a bad signature is invalid, not expired).
        format!("{header}.{expired_payload}.{signature}"),
        // Signature flipped, truncated, or not base64url.
        format!("{header}.{payload}.{}", signature.replace('5', "6")),
        format!("{header}.{payload}.{}", &signature[..20]),
        format!("{header}.{payload}.{}", signature.replace('_', "/")),
        // Algorithms other than HS256, even when the HMAC is right for the header that claims them.
        forge(r#"{"alg":"none"}"#, r#"{"email":"a@b.c","iat":1,"exp":4102444800}"#),
        format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#)),
        forge(r#"{"alg":"HS512"}"#, r#"{"email":"a@b.c","iat":1,"exp":4102444800}"#),
        forge(r#"{"typ":"JWT"}"#, r#"{"email":"a@b.c","iat":1,"exp":4102444800}"#),
        forge(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, r#"{"email":"a@b.c","iat":1,"exp":4102444800}"#),
        forge(r#"["HS256"]"#, r#"{"email":"a@b.c","iat":1,"exp":4102444800}"#),
        forge("not json", r#"{"email":"a@b.c","iat":1,"exp":4102444800}"#),
        // Payloads that are not objects, or claims of the wrong type.
        forge(r#"{"alg":"HS256"}"#, r#"["email"]"#),
        forge(r#"{"alg":"HS256"}"#, "null"),
        forge(r#"{"alg":"HS256"}"#, r#"{"email":"a@b.c","iat":1,"exp":"4102444800"}"#),
        forge(r#"{"alg":"HS256"}"#, r#"{"email":"a@b.c","iat":"1","exp":4102444800}"#),
        forge(r#"{"alg":"HS256"}"#, r#"{"email":"a@b.c","iat":1,"exp":4102444800,"nbf":4102444800}"#),
        forge(r#"{"alg":"HS256"}"#, r#"{"iat":1,"exp":4102444800}"#),
        forge(r#"{"alg":"HS256"}"#, r#"{"email":7,"iat":1,"exp":4102444800}"#),
        forge(r#"{"alg":"HS256"}"#, r#"{"email":"a@b.c","updateTo":null,"iat":1,"exp":4102444800}"#),
        forge(r#"{"alg":"HS256"}"#, r#"{"email":"a@b.c","requestType":1,"iat":1,"exp":4102444800}"#),
        forge(r#"{"alg":"HS256"}"#, r#"{"email":"a@b.c","iat":1}"#),
        forge(r#"{"alg":"HS256"}"#, r#"{"email":"a@b.c","exp":4102444800}"#),
    ];
    for token in &invalid {
        assert_eq!(verify_email_verification_jwt(token, &secret(), now), Err(JwtError::Invalid), "{token}");
    }
    let wrong = Secret::new("another-secret-another-secret-0123".to_owned());
    assert_eq!(verify_email_verification_jwt(JWT_VECTOR, &wrong, now), Err(JwtError::Invalid));
}

#[test]
fn token_checks_run_in_joses_order() {
    let now = 1_893_456_000;
    // Extra header fields are fine (jose ignores them), `nbf` in the past too.
    let typed = forge(r#"{"alg":"HS256","typ":"JWT"}"#, r#"{"email":"a@b.c","iat":1,"exp":4102444800,"nbf":5}"#);
    assert_eq!(
        verify_email_verification_jwt(&typed, &secret(), now).map(|claims| claims.email),
        Ok("a@b.c".to_owned())
    );
    // Expiry is decided before the claims are read: an expired token without an e-mail is "expired".
    let expired = forge(r#"{"alg":"HS256"}"#, r#"{"iat":1,"exp":2}"#);
    assert_eq!(verify_email_verification_jwt(&expired, &secret(), now), Err(JwtError::Expired));
    // A not-yet-valid token is invalid, even when also expired (nbf is checked first).
    let early = forge(r#"{"alg":"HS256"}"#, r#"{"email":"a@b.c","iat":1,"exp":2,"nbf":4102444800}"#);
    assert_eq!(verify_email_verification_jwt(&early, &secret(), now), Err(JwtError::Invalid));
    // The generic verifier returns the payload, unknown claims included.
    let extra = forge(r#"{"alg":"HS256"}"#, r#"{"email":"a@b.c","iat":1,"exp":4102444800,"x":[1]}"#);
    let claims = verify_hs256_jwt(&extra, &secret(), now).unwrap();
    assert_eq!(claims.get("x"), Some(&serde_json::json!([1])));
}

#[test]
fn jwt_errors_carry_better_auths_codes() {
    assert_eq!(JwtError::Invalid.code(), "invalid_token");
    assert_eq!(JwtError::Expired.code(), "token_expired");
}

// ---------------------------------------------------------------------------------------------------------------
// Symmetric encryption
// ---------------------------------------------------------------------------------------------------------------

/// Vector 15.4.
const SYMMETRIC_NONCE: &str = "000102030405060708090a0b0c0d0e0f1011121314151617";
const SYMMETRIC_OUTPUT: &str = "000102030405060708090a0b0c0d0e0f101112131415161792fbf539a1dac55e0b369f890692feb1763301c99fd5a5161ccfac7ef018685f8c";

/// The recorded `jwks` row's `privateKey` column (a JSON string of hex) and what it decrypts to.
const JWKS_PRIVATE_KEY_COLUMN: &str = r#""be3eadf3c0cf9471004f848e6c3c781b573ef0e01d042c9c72d4ba140befea0204c855ea504eea92cc29ca2162c363e96a3812d3bff0c11706d52a0b3f6a1f2f8fc5f8501111e15c7cec13048dbd00613e94d37b855fb176e0a31822d544d90ff00016cba030b2a036232ba0370884d9cf1b6dce69a02042cfb5d7b8cbda894d3a4a051fe43af23572053bd06e2f2d5de025cf7dd656b22672559874c5e4b2b889516e16fdef719333""#;
const JWKS_PRIVATE_JWK: &str = r#"{"crv":"Ed25519","d":"UlH8DbPbTf6_aKijNzGymaVj44B4H7iD9byPE8fV4WQ","x":"VLrneR2P9chKOFfEXl9WSuacBpD6ynSXQUnT377Y4X4","kty":"OKP"}"#;

#[test]
fn symmetric_key_is_sha256_of_the_secret() {
    assert_eq!(
        hex_encode(&Sha256::digest(secret().as_bytes())),
        "8773e322ccffb8a31b25cf937cbba0ea0c731d6ca8ab84d5ca5d58c680ffd1fd"
    );
}

#[test]
fn symmetric_encryption_matches_better_auth() {
    let entropy = Scripted::new(&unhex(SYMMETRIC_NONCE));
    assert_eq!(symmetric_encrypt(r#"{"hello":"world"}"#, &secret(), &entropy), SYMMETRIC_OUTPUT);
    assert_eq!(entropy.remaining(), 0, "exactly one 24-byte nonce is drawn");
    assert_eq!(symmetric_decrypt(SYMMETRIC_OUTPUT, &secret()).as_deref(), Some(r#"{"hello":"world"}"#));
    assert_eq!(
        symmetric_decrypt(&SYMMETRIC_OUTPUT.to_uppercase(), &secret()).as_deref(),
        Some(r#"{"hello":"world"}"#),
        "hexToBytes takes either case"
    );
}

#[test]
fn the_recorded_jwks_private_key_decrypts() {
    let hex: String = serde_json::from_str(JWKS_PRIVATE_KEY_COLUMN).unwrap();
    assert_eq!(symmetric_decrypt(&hex, &secret()).as_deref(), Some(JWKS_PRIVATE_JWK));
}

#[test]
fn symmetric_round_trips_with_fresh_nonces() {
    let entropy = SeededEntropy::new(5);
    for plaintext in ["", "x", "ünïcödé ✓", &"long ".repeat(1000)] {
        let first = symmetric_encrypt(plaintext, &secret(), &entropy);
        let second = symmetric_encrypt(plaintext, &secret(), &entropy);
        assert_ne!(first, second, "a fresh nonce each time");
        assert_eq!(first.len(), 2 * (24 + plaintext.len() + 16));
        assert_eq!(symmetric_decrypt(&first, &secret()).as_deref(), Some(plaintext));
        assert_eq!(symmetric_decrypt(&second, &secret()).as_deref(), Some(plaintext));
    }
}

#[test]
fn hostile_ciphertexts_are_refused() {
    let flip = |position: usize| {
        let mut bytes = unhex(SYMMETRIC_OUTPUT);
        bytes[position] ^= 1;
        hex_encode(&bytes)
    };
    let length = SYMMETRIC_OUTPUT.len() / 2;
    for ciphertext in [
        flip(0),          // nonce
        flip(30),         // ciphertext
        flip(length - 1), // tag
        SYMMETRIC_OUTPUT[..SYMMETRIC_OUTPUT.len() - 2].to_owned(),
        SYMMETRIC_OUTPUT[..SYMMETRIC_OUTPUT.len() - 1].to_owned(), // odd length
        SYMMETRIC_OUTPUT.replace('f', "g"),                        // not hex
        SYMMETRIC_NONCE.to_owned(),                                // nonce only
        format!("{SYMMETRIC_NONCE}{}", "00".repeat(15)),           // shorter than a tag
        String::new(),
    ] {
        assert_eq!(symmetric_decrypt(&ciphertext, &secret()), None, "{ciphertext}");
    }
    let wrong = Secret::new("another-secret-another-secret-0123".to_owned());
    assert_eq!(symmetric_decrypt(SYMMETRIC_OUTPUT, &wrong), None);
}

#[test]
fn invalid_utf8_plaintext_decodes_lossily_like_text_decoder() {
    let nonce = [7u8; NONCE_LEN];
    let sealed = symmetric_cipher(&secret()).encrypt(XNonce::from_slice(&nonce), &[0x66, 0xff, 0x6f][..]).unwrap();
    let hex = hex_encode(&[&nonce[..], &sealed].concat());
    assert_eq!(symmetric_decrypt(&hex, &secret()).as_deref(), Some("f\u{fffd}o"));
}
