//! The key layout, documents and join tokens, without etcd (the tests
//! against a real etcd are in tests/).

use super::*;

#[test]
fn history_records_keep_values_and_read_old_records_without_them() {
    let old =
        br#"{"number":1,"time":0,"user":"admin","machine":"esa1","comment":"","sections":["dns"]}"#;
    let r: HistoryRecord = serde_json::from_slice(old).unwrap();
    assert_eq!(r.values, None);
    let mut values = LevelSettings::default();
    values
        .sections
        .insert("dns".into(), serde_json::json!({"timeout": 9}));
    let mut r = record(2, "admin", "esa1", "c", vec!["dns".into()]);
    r.values = Some(values.clone());
    let back: HistoryRecord = serde_json::from_slice(&encode(&r).unwrap()).unwrap();
    assert_eq!(back.values, Some(values));
}

#[test]
fn a_member_is_stale_after_three_missed_heartbeats() {
    let s = status(1, BTreeMap::new());
    let seen = s.seen_at().unwrap();
    assert!(!s.is_stale(seen));
    assert!(!s.is_stale(seen + chrono::Duration::seconds(90)));
    assert!(s.is_stale(seen + chrono::Duration::seconds(91)));
    let old = Status {
        seen: String::new(),
        ..s
    };
    assert!(!old.is_stale(seen + chrono::Duration::days(1)));
}

#[test]
fn a_request_over_etcd_s_limit_is_refused_with_its_size() {
    assert!(check_request_size(MAX_REQUEST_BYTES).is_ok());
    let e = check_request_size(MAX_REQUEST_BYTES + 1).unwrap_err();
    assert!(
        matches!(e, ClusterError::TooLarge { bytes, limit } if bytes == MAX_REQUEST_BYTES + 1 && limit == MAX_REQUEST_BYTES)
    );
    assert!(e.to_string().contains("1572864 bytes"), "{e}");
}

#[test]
fn keys_follow_the_decision_s_layout() {
    assert_eq!(
        level_key("Hosted_Cluster", &Level::Cluster),
        "/breakwater/v1/Hosted_Cluster/level/cluster"
    );
    assert_eq!(
        level_key("C", &Level::Group("Main_Group".into())),
        "/breakwater/v1/C/level/group/Main_Group"
    );
    assert_eq!(
        history_key("C", &Level::Machine("esa1".into()), 7),
        "/breakwater/v1/C/history/machine/esa1/00000000000000000007"
    );
    assert_eq!(member_key("C", "esa1"), "/breakwater/v1/C/members/esa1");
    assert_eq!(status_key("C", "esa1"), "/breakwater/v1/C/status/esa1");
}

#[test]
fn level_documents_are_the_decision_s_json() {
    let mut doc = LevelDoc::default();
    doc.sections
        .insert("dns".into(), serde_json::json!({"x": 1}));
    doc.commit = 3;
    assert_eq!(
        serde_json::to_value(&doc).unwrap(),
        serde_json::json!({"sections": {"dns": {"x": 1}}, "commit": 3})
    );
}

#[test]
fn join_tokens_round_trip_and_hostile_ones_are_refused() {
    let token = JoinToken {
        cluster: "Hosted_Cluster".into(),
        endpoints: vec!["https://127.9.0.1:2379".into(), "https://[::1]:2379".into()],
        ca_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
    };
    let text = token.encode().unwrap();
    assert_eq!(JoinToken::decode(&format!(" {text}\n")).unwrap(), token);
    let with = |f: &dyn Fn(&mut JoinToken)| {
        let mut t = token.clone();
        f(&mut t);
        JoinToken::decode(&t.encode().unwrap())
    };
    assert_eq!(
        with(&|t| t.cluster = "../other".into()),
        Err(JoinTokenError::BadName)
    );
    assert_eq!(
        with(&|t| t.endpoints = vec!["http://127.0.0.1:2379".into()]),
        Err(JoinTokenError::BadEndpoints)
    );
    assert_eq!(
        with(&|t| t.endpoints = vec!["https://h:2379/x".into()]),
        Err(JoinTokenError::BadEndpoints)
    );
    assert_eq!(
        with(&|t| t.endpoints.clear()),
        Err(JoinTokenError::BadEndpoints)
    );
    assert_eq!(with(&|t| t.ca_pem.clear()), Err(JoinTokenError::NoCa));
    assert_eq!(
        JoinToken::decode("not a token"),
        Err(JoinTokenError::Malformed)
    );
    assert_eq!(
        JoinToken::decode(&"A".repeat(MAX_JOIN_TOKEN_CHARS + 1)),
        Err(JoinTokenError::TooLong)
    );
}

#[test]
fn names_with_a_slash_or_space_are_refused() {
    assert!(valid_name("Hosted_Cluster"));
    assert!(valid_name("esa1.myesa.com"));
    assert!(!valid_name("a/b"));
    assert!(!valid_name("a b"));
    assert!(!valid_name(""));
}

#[test]
fn plain_http_endpoints_are_refused() {
    let e = connect(
        &["http://127.0.0.1:2379".to_string()],
        "",
        "",
        "",
        DEFAULT_TIMEOUT,
    )
    .unwrap_err();
    assert!(e.to_string().contains("https://"), "{e}");
}
