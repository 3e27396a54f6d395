use super::*;

fn addrs(v: &str) -> Vec<String> {
    parse_address_list(v.as_bytes())
        .mailboxes
        .into_iter()
        .map(|m| m.addr)
        .collect()
}
fn names(v: &str) -> Vec<String> {
    let l = parse_address_list(v.as_bytes());
    l.mailboxes
        .iter()
        .map(|m| {
            m.name
                .clone()
                .map(|r| decode_phrase(&v.as_bytes()[r]))
                .unwrap_or_default()
        })
        .collect()
}
fn problems(v: &str) -> Vec<Problem> {
    parse_address_list(v.as_bytes())
        .broken
        .into_iter()
        .map(|b| b.problem)
        .collect()
}

#[test]
fn simple_forms() {
    assert_eq!(
        addrs("a@example.org, B <B@Example.ORG>, \"C, D\" <c@example.org>"),
        vec!["a@example.org", "b@example.org", "c@example.org"]
    );
    assert_eq!(
        names("B <b@x.test>, \"Doe, Jane\" <j@x.test>"),
        vec!["B", "Doe, Jane"]
    );
}

#[test]
fn groups_yield_members_and_empty_groups_nobody() {
    assert_eq!(addrs("undisclosed-recipients:;"), Vec::<String>::new());
    assert!(problems("undisclosed-recipients:;").is_empty());
    assert_eq!(addrs("Undisclosed recipients: ;"), Vec::<String>::new());
    assert_eq!(
        addrs("Team: a@example.org, Bob <b@example.org>;, c@example.org"),
        vec!["a@example.org", "b@example.org", "c@example.org"]
    );
}

#[test]
fn unquoted_comma_in_name_salvages_the_address() {
    let l = parse_address_list(b"Doe, John <j@x.example>, k@x.example");
    let a: Vec<_> = l.mailboxes.iter().map(|m| m.addr.as_str()).collect();
    assert_eq!(a, vec!["j@x.example", "k@x.example"]);
    assert_eq!(l.broken.len(), 1);
    assert_eq!(l.broken[0].problem, Problem::NoAddress);
    assert_eq!(l.broken[0].at, 0);
}

#[test]
fn missing_closing_angle_is_salvaged() {
    assert_eq!(
        addrs("A <a@x.example, B <b@x.example>"),
        vec!["a@x.example", "b@x.example"]
    );
    assert_eq!(
        problems("A <a@x.example, B <b@x.example>"),
        vec![Problem::UnclosedAngle]
    );
}

#[test]
fn encoded_word_with_comma_is_one_person() {
    let v =
        "=?UTF-8?Q?Smith=2C_Jane?= <jane@example.org>, =?ISO-8859-1?B?SvxyZ2Vu?= <j@example.org>";
    assert_eq!(addrs(v), vec!["jane@example.org", "j@example.org"]);
    assert_eq!(names(v), vec!["Smith, Jane", "Jürgen"]);
}

#[test]
fn raw_utf8_and_latin1_names() {
    assert_eq!(names("Zoë <z@example.org>"), vec!["Zoë"]);
    let mut v = b"J\xfcrgen <j@example.org>".to_vec();
    let l = parse_address_list(&v);
    assert_eq!(l.mailboxes[0].addr, "j@example.org");
    v.truncate(7);
    assert_eq!(decode_phrase(&v), "Jürgen");
}

#[test]
fn normalisation() {
    assert_eq!(
        addrs("<@route.test,@other.test:Pete@Silly.Test>"),
        vec!["pete@silly.test"]
    );
    assert_eq!(
        addrs("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
        vec!["pete@silly.test"]
    );
    assert_eq!(addrs("  \"john\"@example.org  "), vec!["john@example.org"]);
    assert_eq!(
        addrs("'frank@example.org, x@example.org'"),
        vec!["frank@example.org", "x@example.org"]
    );
    assert_eq!(addrs("j@example.org (John Doe)"), vec!["j@example.org"]);
    assert_eq!(names("j@example.org (John Doe)"), vec!["John Doe"]);
    assert_eq!(
        addrs("a@example.org,,  ,b@example.org,"),
        vec!["a@example.org", "b@example.org"]
    );
    assert_eq!(
        addrs("a@example.org,\r\n\tb@example.org"),
        vec!["a@example.org", "b@example.org"]
    );
}

#[test]
fn broken_entries_do_not_lose_the_rest() {
    let l = parse_address_list(b"Carl Knoos, a@, @b, x@example.org, John Doe j@example.org");
    let a: Vec<_> = l.mailboxes.iter().map(|m| m.addr.as_str()).collect();
    assert_eq!(a, vec!["x@example.org", "j@example.org"]);
    let p: Vec<_> = l.broken.iter().map(|b| b.problem).collect();
    assert_eq!(
        p,
        vec![
            Problem::NoAddress,
            Problem::InvalidAddress,
            Problem::InvalidAddress,
            Problem::BareAddressInPhrase
        ]
    );
}

#[test]
fn obsolete_spacing_around_dots() {
    assert_eq!(
        addrs("jdoe@test  . example, a @ example.org"),
        vec!["jdoe@test.example", "a@example.org"]
    );
    // A title is not part of the address.
    assert_eq!(addrs("Dr. j@example.org"), vec!["j@example.org"]);
}

#[test]
fn odd_but_real_enron_addresses() {
    assert_eq!(
        addrs("trading <.williams@enron.com>, h..lewis@enron.com"),
        vec![".williams@enron.com", "h..lewis@enron.com"]
    );
}

#[test]
fn binary_junk_does_not_panic() {
    let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let _ = parse_address_list(&junk);
    let _ = parse_address_list(b"\"unterminated <a@b.example>");
    let _ = parse_address_list(b"(((( <");
    let _ = parse_address_list(b"<");
    let _ = parse_address_list(b"\\");
}

#[test]
fn quoted_local_parts_are_kept_as_written() {
    assert_eq!(
        addrs("\"john doe\"@X.Test, \"a,b\"@x.test, \"list:x\"@x.test"),
        vec!["\"john doe\"@x.test", "\"a,b\"@x.test", "\"list:x\"@x.test"]
    );
    // Parentheses inside quotes are not a comment; case of the local part is kept.
    assert_eq!(
        addrs("Name <\"Odd (Box)\"@Example.ORG>"),
        vec!["\"Odd (Box)\"@example.org"]
    );
    // Quotes that change nothing are dropped: the same mailbox as the bare form.
    assert_eq!(addrs("\"john\"@example.org"), vec!["john@example.org"]);
    assert!(problems("\"john doe\"@x.test, \"a,b\"@x.test").is_empty());
}

#[test]
fn address_cut_by_a_fold_is_joined_with_a_warning() {
    assert_eq!(
        addrs("a@x.test, devicet\r\n ree@vger.kernel.org, b@x.test"),
        vec!["a@x.test", "devicetree@vger.kernel.org", "b@x.test"]
    );
    assert_eq!(
        problems("a@x.test, devicet\n ree@vger.kernel.org"),
        vec![Problem::JoinedAcrossFold]
    );
    // A name written before a bare address with a space is not joined.
    assert_eq!(addrs("John j@example.org"), vec!["j@example.org"]);
    assert_eq!(addrs("\"John\"\r\n j@example.org"), vec!["j@example.org"]);
}

#[test]
fn comment_after_an_empty_group_is_not_a_problem() {
    assert!(problems("unlisted-recipients:; (no To-header on input)").is_empty());
    assert!(addrs("unlisted-recipients:; (no To-header on input)").is_empty());
}

#[test]
fn stray_closing_parenthesis_regression() {
    // Used to loop forever without advancing.
    assert_eq!(
        addrs("a@example.org) , b@example.org"),
        vec!["a@example.org", "b@example.org"]
    );
    assert_eq!(addrs(")"), Vec::<String>::new());
}

#[test]
fn plain_names_are_decoded_as_the_general_rule_decodes_them() {
    for raw in [
        "Alice Smith",
        "  Alice   Smith  ",
        "'Alice Smith'",
        "' ' Bob ' '",
        "''",
        "",
        "   ",
        "O'Brien, Pat",
        "Smith; J.",
        "a' 'b",
        "x'",
        "Dr. Who <not an addr",
        "\"Doe, Jane\"",
        "\" Doe \"  \"Jane\"",
        "a\"b",
        "\"\"",
        "' \"x\" '",
        "a  b",
        "   ",
        "'a' 'b'",
        "x=y?z = ?",
        "\"\" a \"\"",
    ] {
        let mut fast = String::from("prefix");
        decode_phrase_into(&mut fast, raw.as_bytes());
        assert_eq!(
            fast,
            format!("prefix{}", decode_phrase_general(raw.as_bytes())),
            "{raw:?}"
        );
    }
    // Not plain: the general rule.
    for raw in [
        "\"a\\\"b\"",
        "=?utf-8?q?Caf=C3=A9?=",
        "(Bob)",
        "a\\b",
        "tab\there",
        "Zoë",
    ] {
        let mut out = String::new();
        decode_phrase_into(&mut out, raw.as_bytes());
        assert_eq!(out, decode_phrase_general(raw.as_bytes()), "{raw:?}");
    }
}
