use super::*;

fn store(policy: LoginPolicy) -> (tempfile::TempDir, UserStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = UserStore::open_standalone(dir.path(), policy).unwrap();
    (dir, s)
}

fn fast() -> LoginPolicy {
    LoginPolicy {
        max_failures: 3,
        delay_step: Duration::from_millis(200),
        lockout: Duration::from_millis(600),
        hash_memory_kib: 64,
        hash_passes: 1,
        ..LoginPolicy::default()
    }
}

#[test]
fn factory_admin_logs_in_with_argon2_and_must_change() {
    let (_d, s) = store(fast());
    let u = s.user("ADMIN").unwrap().unwrap();
    assert!(u.hash.starts_with("$argon2id$") && !u.hash.contains(FACTORY_PASSWORD));
    let r = s
        .authenticate("admin", FACTORY_PASSWORD, "ttyS0", SERIAL)
        .unwrap();
    assert!(r.must_change && r.role == Role::Admin);
    assert!(
        s.change_password("admin", FACTORY_PASSWORD, "short")
            .is_err()
    );
    assert!(
        s.change_password("admin", FACTORY_PASSWORD, FACTORY_PASSWORD)
            .is_err()
    );
    s.change_password("admin", FACTORY_PASSWORD, "n3w passphrase")
        .unwrap();
    assert!(!s.user("admin").unwrap().unwrap().must_change);
    assert!(s.session(&r.token).unwrap().is_some());
    s.end(&r.token, "logout").unwrap();
    assert!(s.session(&r.token).unwrap().is_none());
    assert_eq!(s.last(10).unwrap()[0].ended, "logout");
}

const NET: Origin = Origin::Network;
const SERIAL: Origin = Origin::Serial;

fn delay(r: Result<AuthReply, UserError>) -> u64 {
    match r {
        Err(UserError::Incorrect { delay_ms }) => delay_ms,
        other => panic!("{other:?}"),
    }
}

#[test]
fn failures_grow_the_delay_then_lock_a_network_login() {
    let (_d, s) = store(fast());
    assert_eq!(delay(s.authenticate("admin", "wrong1", "t", NET)), 200);
    // Too early: refused with the same answer, the rest of the wait.
    assert!(delay(s.authenticate("admin", FACTORY_PASSWORD, "t", NET)) <= 200);
    std::thread::sleep(Duration::from_millis(210));
    assert_eq!(delay(s.authenticate("admin", "wrong2", "t", NET)), 400);
    std::thread::sleep(Duration::from_millis(410));
    // The third failure locks; the answer is still "Login incorrect."
    // with the top of the scale.
    assert_eq!(delay(s.authenticate("admin", "wrong3", "t", NET)), 600);
    let u = s.user("admin").unwrap().unwrap();
    assert!(u.locked_until_ms > now_ms());
    // Even the right passphrase is refused while locked.
    assert_eq!(
        delay(s.authenticate("admin", FACTORY_PASSWORD, "t", NET)),
        600
    );
    std::thread::sleep(Duration::from_millis(620));
    assert!(s.authenticate("admin", FACTORY_PASSWORD, "t", NET).is_ok());
}

#[test]
fn unknown_wrong_and_locked_get_the_same_answer_and_waits() {
    let (_d, s) = store(LoginPolicy {
        lockout: Duration::from_secs(3600),
        ..fast()
    });
    s.add_user("alice", "", Role::Operator, "alice pass 1")
        .unwrap();
    // The same sequence of answers for a known and an unknown name,
    // through the lock and while locked.
    let mut answers = Vec::new();
    for name in ["alice", "mallory"] {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let r = s.authenticate(name, "guess guess", "t", NET);
            let text = r.as_ref().map(|_| ()).unwrap_err().to_string();
            seen.push((text, delay(r)));
            std::thread::sleep(Duration::from_millis(
                seen.last().map_or(0, |(_, d)| *d) + 10,
            ));
        }
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1]);
    assert!(answers[0].iter().all(|(t, _)| t == "Login incorrect."));
    assert_eq!(
        answers[0].iter().map(|(_, d)| *d).collect::<Vec<_>>(),
        [200, 400, 600, 600]
    );
    // alice is locked now: the right passphrase gets the same answer.
    assert_eq!(
        delay(s.authenticate("alice", "alice pass 1", "t", NET)),
        600
    );
}

#[test]
fn the_serial_console_slows_down_but_never_locks() {
    let policy = LoginPolicy {
        lockout: Duration::from_secs(3600),
        serial_max_delay: Duration::from_millis(500),
        ..fast()
    };
    let (_d, s) = store(policy);
    // Someone on the network locks the admin for an hour.
    for i in 0..3 {
        let d = delay(s.authenticate("admin", "guess guess", "pts/1", NET));
        if i < 2 {
            std::thread::sleep(Duration::from_millis(d + 10));
        }
    }
    assert!(s.user("admin").unwrap().unwrap().locked_until_ms > now_ms());
    // At the serial console, failures slow down, capped, never lock.
    let mut waits = Vec::new();
    for _ in 0..5 {
        let d = delay(s.authenticate("admin", "typo typo", "ttyS0", SERIAL));
        waits.push(d);
        std::thread::sleep(Duration::from_millis(d + 10));
    }
    assert_eq!(waits, [200, 400, 500, 500, 500]);
    // The administrator at the box still gets in, though the account
    // is locked for network logins.
    let r = s.authenticate("admin", FACTORY_PASSWORD, "ttyS0", SERIAL);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        delay(s.authenticate("admin", FACTORY_PASSWORD, "pts/1", NET)),
        600
    );
    assert_eq!(policy.delay_ms(1000, SERIAL), 500);
    assert_eq!(
        LoginPolicy::default().serial_max_delay,
        Duration::from_secs(60)
    );
}

#[test]
fn concurrent_failures_each_count() {
    // No wait between attempts and no lock within the run, so every
    // attempt is checked and must be counted once.
    let policy = LoginPolicy {
        max_failures: 1000,
        delay_step: Duration::ZERO,
        ..fast()
    };
    let (_d, s) = store(policy);
    let s = std::sync::Arc::new(s);
    const THREADS: u32 = 8;
    const EACH: u32 = 5;
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..EACH {
                    assert!(s.authenticate("admin", "guess guess", "t", NET).is_err());
                    assert!(s.authenticate("ghost", "guess guess", "t", NET).is_err());
                    assert!(s.authenticate("admin", "guess guess", "t", SERIAL).is_err());
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    for (name, origin) in [("admin", NET), ("ghost", NET), ("admin", SERIAL)] {
        assert_eq!(
            s.throttle(name, origin).unwrap().failures,
            THREADS * EACH,
            "{name} {origin:?}"
        );
    }
}

#[test]
fn an_edit_does_not_lose_a_failure_counted_meanwhile() {
    let (_d, s) = store(fast());
    let _ = s.authenticate("admin", "guess guess", "t", NET);
    s.update("admin", |u| u.full_name = "Root".into()).unwrap();
    assert_eq!(s.throttle("admin", NET).unwrap().failures, 1);
    assert_eq!(s.user("admin").unwrap().unwrap().full_name, "Root");
}

#[test]
fn users_roles_and_the_last_admin() {
    let (_d, s) = store(fast());
    s.add_user("Reader", "Read Only", Role::ReadOnly, "reader pass")
        .unwrap();
    assert!(
        s.add_user("reader", "", Role::Guest, "reader pass")
            .is_err()
    );
    assert!(s.add_user("1bad", "", Role::Guest, "reader pass").is_err());
    let r = s.authenticate("reader", "reader pass", "t", NET).unwrap();
    assert_eq!(r.role, Role::ReadOnly);
    assert!(r.must_change && !r.role.can_change_config());
    assert!(s.update("admin", |u| u.role = Role::Operator).is_err());
    assert_eq!(s.user("admin").unwrap().unwrap().role, Role::Admin);
    assert!(s.delete_user("admin", "reader").is_err());
    assert!(s.delete_user("admin", "admin").is_err());
    s.delete_user("reader", "admin").unwrap();
    assert!(s.session(&r.token).unwrap().is_none());
    assert_eq!(Role::parse("READ-ONLY"), Some(Role::ReadOnly));
    assert_eq!(s.serial().unwrap(), s.serial().unwrap());
}

#[test]
fn a_key_login_opens_a_session_only_for_a_known_unlocked_user_with_a_chosen_passphrase() {
    let policy = LoginPolicy {
        delay_step: Duration::ZERO,
        lockout: Duration::from_secs(60),
        ..fast()
    };
    let (_d, s) = store(policy);
    // Unknown, and the factory admin who has not chosen a passphrase yet.
    assert_eq!(delay(s.open_session_for_key("nobody", "ssh")), 0);
    assert_eq!(delay(s.open_session_for_key("admin", "ssh")), 0);
    s.change_password("admin", FACTORY_PASSWORD, "n3w passphrase")
        .unwrap();
    let r = s.open_session_for_key("Admin", "ssh").unwrap();
    assert!(r.role == Role::Admin && !r.must_change);
    let (u, session) = s.session(&r.token).unwrap().unwrap();
    assert_eq!((u.name.as_str(), session.tty.as_str()), ("admin", "ssh"));
    assert_eq!(s.last(1).unwrap()[0].tty, "ssh");
    // A lock from failed network logins holds for keys too.
    for _ in 0..3 {
        delay(s.authenticate("admin", "wrong", "ssh", NET));
    }
    assert_eq!(delay(s.open_session_for_key("admin", "ssh")), 0);
}
