//! [`IdentityStore`] conformance: users and their inline policies, access keys
//! (the two-key limit counts inactive keys, and holds under racing adds), roles,
//! session revocation, STS sessions and their purge, and what deleting a user or a
//! role takes with it.

use std::sync::Arc;

use futures_util::future::join_all;
use linkgate::auth::secrets::token_hash;
use linkgate::store::identity::{AddKey, IdentityStore, KeyRecord, Principal, RoleRecord, SessionRecord, UserRecord};

/// Runs every check, in order, on a fresh, empty store.
pub async fn run(store: Arc<dyn IdentityStore>) {
    let s = store.as_ref();
    check_users_and_policies(s).await;
    check_keys(s).await;
    check_roles(s).await;
    check_sessions(s).await;
    check_deletes_cascade(s).await;
    check_racing_key_adds(&store).await;
}

fn key(id: &str, user: &str, active: bool) -> KeyRecord {
    KeyRecord { access_key_id: id.into(), user: user.into(), secret_sealed: format!("sealed:{id}"), active, created_ms: 1_000 }
}

fn role(name: &str, policies: &[(&str, &str)]) -> RoleRecord {
    RoleRecord {
        name: name.into(),
        created_ms: 5,
        max_session_secs: 3600,
        trusted_users: vec!["alice".into(), "bob".into()],
        policies: policies.iter().map(|(n, d)| ((*n).to_owned(), (*d).to_owned())).collect(),
        revoked_before_ms: 0,
    }
}

fn session(id: &str, principal: Principal, expires_ms: i64) -> SessionRecord {
    SessionRecord {
        access_key_id: id.into(),
        secret_sealed: format!("sealed:{id}"),
        token_hash: token_hash(&format!("session token of {id}")),
        principal,
        created_ms: 5,
        expires_ms,
    }
}

fn as_role(role: &str, session_name: &str, source_user: &str) -> Principal {
    Principal::Role { role: role.into(), session_name: session_name.into(), source_user: source_user.into() }
}

fn policy(name: &str, doc: &str) -> (String, String) {
    (name.to_owned(), doc.to_owned())
}

const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
const WRITE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#;

/// Users are created once, listed by name, and carry their inline policies by name.
pub async fn check_users_and_policies(s: &dyn IdentityStore) {
    assert_eq!(s.list_users().await.unwrap(), [], "a fresh store has no users");
    assert!(s.create_user("alice", 10).await.unwrap());
    assert!(!s.create_user("alice", 20).await.unwrap(), "the name exists");
    assert_eq!(s.user("alice").await.unwrap(), Some(UserRecord { name: "alice".into(), created_ms: 10, policies: vec![] }));
    assert!(s.create_user("bob", 11).await.unwrap());
    assert!(s.create_user("Zed", 12).await.unwrap());
    let names = |v: Vec<UserRecord>| v.into_iter().map(|u| u.name).collect::<Vec<_>>();
    assert_eq!(names(s.list_users().await.unwrap()), ["Zed", "alice", "bob"], "by name (byte order)");
    assert_eq!(s.user("nope").await.unwrap(), None);
    assert_eq!(s.user("Alice").await.unwrap(), None, "names are case-sensitive");

    assert!(s.put_user_policy("alice", "write", WRITE).await.unwrap());
    assert!(s.put_user_policy("alice", "read", "{}").await.unwrap());
    assert!(s.put_user_policy("alice", "read", READ).await.unwrap(), "replacing a policy");
    assert_eq!(s.user("alice").await.unwrap().unwrap().policies, [policy("read", READ), policy("write", WRITE)], "by name");
    assert!(!s.put_user_policy("nope", "read", READ).await.unwrap(), "no such user");
    assert_eq!(s.user("nope").await.unwrap(), None, "a policy does not create its user");
    let listed = s.list_users().await.unwrap();
    assert_eq!(
        listed[1],
        UserRecord { name: "alice".into(), created_ms: 10, policies: vec![policy("read", READ), policy("write", WRITE)] }
    );
    assert_eq!(listed[2].policies, [], "policies belong to their user");

    assert!(s.delete_user_policy("alice", "write").await.unwrap());
    assert!(!s.delete_user_policy("alice", "write").await.unwrap(), "already deleted");
    assert!(!s.delete_user_policy("bob", "read").await.unwrap(), "bob never had it");
    assert!(!s.delete_user_policy("nope", "read").await.unwrap(), "no such user");
    assert_eq!(s.user("alice").await.unwrap().unwrap().policies, [policy("read", READ)]);

    assert!(s.delete_user("bob").await.unwrap());
    assert!(!s.delete_user("bob").await.unwrap(), "already deleted");
    assert!(!s.delete_user("nope").await.unwrap());
    assert_eq!(s.user("bob").await.unwrap(), None);
    assert_eq!(names(s.list_users().await.unwrap()), ["Zed", "alice"]);
}

/// Access keys: round trip, at most two per user (inactive ones count), activation.
pub async fn check_keys(s: &dyn IdentityStore) {
    assert_eq!(s.add_key(&key("AKIANOUSER0000000000", "nobody", true)).await.unwrap(), AddKey::NoUser);
    assert_eq!(s.key("AKIANOUSER0000000000").await.unwrap(), None);

    assert!(s.create_user("carol", 1).await.unwrap());
    let (k1, k2) = (key("AKIACAROL00000000001", "carol", true), key("AKIACAROL00000000002", "carol", false));
    assert_eq!(s.add_key(&k1).await.unwrap(), AddKey::Added);
    assert_eq!(s.add_key(&k2).await.unwrap(), AddKey::Added);
    assert_eq!(s.key(&k1.access_key_id).await.unwrap(), Some(k1.clone()));
    assert_eq!(s.key(&k2.access_key_id).await.unwrap(), Some(k2.clone()), "an inactive key reads back inactive");
    let k3 = key("AKIACAROL00000000003", "carol", true);
    assert_eq!(s.add_key(&k3).await.unwrap(), AddKey::LimitExceeded);
    assert_eq!(s.key(&k3.access_key_id).await.unwrap(), None, "a refused key is not stored");
    assert_eq!(sorted_keys(s.list_keys("carol").await.unwrap()), [k1.clone(), k2.clone()]);
    assert_eq!(s.list_keys("nobody").await.unwrap(), []);

    assert!(s.set_key_active(&k1.access_key_id, false).await.unwrap());
    assert!(!s.key(&k1.access_key_id).await.unwrap().unwrap().active);
    assert_eq!(s.add_key(&k3).await.unwrap(), AddKey::LimitExceeded, "inactive keys still count toward the limit");
    assert!(s.set_key_active(&k1.access_key_id, true).await.unwrap());
    assert!(s.key(&k1.access_key_id).await.unwrap().unwrap().active);
    assert!(s.set_key_active(&k2.access_key_id, true).await.unwrap());
    assert_eq!(s.key(&k2.access_key_id).await.unwrap(), Some(KeyRecord { active: true, ..k2.clone() }));
    assert!(!s.set_key_active("AKIAUNKNOWN000000000", true).await.unwrap());
    assert_eq!(s.key("AKIAUNKNOWN000000000").await.unwrap(), None);

    assert!(s.delete_key(&k2.access_key_id).await.unwrap());
    assert!(!s.delete_key(&k2.access_key_id).await.unwrap(), "already deleted");
    assert_eq!(s.key(&k2.access_key_id).await.unwrap(), None);
    assert_eq!(s.add_key(&k3).await.unwrap(), AddKey::Added, "deleting a key frees its slot");
    assert_eq!(sorted_keys(s.list_keys("carol").await.unwrap()), [k1.clone(), k3.clone()]);

    // The limit is per user.
    assert!(s.create_user("dave", 1).await.unwrap());
    for id in ["AKIADAVE000000000001", "AKIADAVE000000000002"] {
        assert_eq!(s.add_key(&key(id, "dave", true)).await.unwrap(), AddKey::Added);
    }
    assert_eq!(s.list_keys("dave").await.unwrap().len(), 2);
    assert_eq!(sorted_keys(s.list_keys("carol").await.unwrap()), [k1, k3]);
}

fn sorted_keys(mut keys: Vec<KeyRecord>) -> Vec<KeyRecord> {
    keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
    keys
}

/// Roles: created once with their policies, policies set by name, revocation instant.
pub async fn check_roles(s: &dyn IdentityStore) {
    assert_eq!(s.list_roles().await.unwrap(), [], "a fresh store has no roles");
    let reader = role("reader", &[("a-read", READ), ("b-write", WRITE)]);
    assert!(s.create_role(&reader).await.unwrap());
    assert_eq!(s.role("reader").await.unwrap(), Some(reader.clone()), "every field");
    let impostor = RoleRecord { max_session_secs: 43200, trusted_users: vec!["mallory".into()], ..role("reader", &[("z", "{}")]) };
    assert!(!s.create_role(&impostor).await.unwrap(), "the name exists");
    assert_eq!(s.role("reader").await.unwrap(), Some(reader.clone()), "a refused create changes nothing");
    assert_eq!(s.role("nope").await.unwrap(), None);

    assert!(s.put_role_policy("reader", "c-extra", "{}").await.unwrap());
    assert!(s.put_role_policy("reader", "a-read", WRITE).await.unwrap(), "replacing a policy");
    assert_eq!(
        s.role("reader").await.unwrap().unwrap().policies,
        [policy("a-read", WRITE), policy("b-write", WRITE), policy("c-extra", "{}")]
    );
    assert!(!s.put_role_policy("nope", "p", "{}").await.unwrap(), "no such role");
    assert_eq!(s.role("nope").await.unwrap(), None, "a policy does not create its role");

    assert!(s.revoke_role_sessions("reader", 99).await.unwrap());
    assert_eq!(s.role("reader").await.unwrap().unwrap().revoked_before_ms, 99);
    assert!(!s.revoke_role_sessions("nope", 99).await.unwrap());

    let admin = RoleRecord { trusted_users: vec![], max_session_secs: 900, ..role("admin", &[]) };
    assert!(s.create_role(&admin).await.unwrap());
    let mut all = s.list_roles().await.unwrap();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(all.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["admin", "reader"]);
    assert_eq!(all[0], admin);
    assert_eq!(all[1].policies.len(), 3, "listed roles carry their policies");
    assert_eq!(all[1].revoked_before_ms, 99);

    assert!(s.delete_role("admin").await.unwrap());
    assert!(!s.delete_role("admin").await.unwrap(), "already deleted");
    assert!(!s.delete_role("nope").await.unwrap());
    assert_eq!(s.role("admin").await.unwrap(), None);
    assert_eq!(s.list_roles().await.unwrap().len(), 1);
}

/// Sessions of every kind round trip; purge removes those expired before `now`.
pub async fn check_sessions(s: &dyn IdentityStore) {
    let by_user = session("ASIAUSER000000000001", Principal::User("alice".into()), 10_000);
    let by_role = session("ASIAROLE000000000001", as_role("reader", "ci run #7 ü", "alice"), 20_000);
    let by_root = session("ASIAROOT000000000001", Principal::Root, 20_000);
    s.create_session(&by_user).await.unwrap();
    s.create_session(&by_role).await.unwrap();
    s.create_session(&by_root).await.unwrap();
    assert_eq!(s.session(&by_user.access_key_id).await.unwrap(), Some(by_user.clone()));
    assert_eq!(s.session(&by_role.access_key_id).await.unwrap(), Some(by_role.clone()));
    assert_eq!(s.session(&by_root.access_key_id).await.unwrap(), Some(by_root.clone()));
    assert_eq!(s.session("ASIANOPE000000000000").await.unwrap(), None);

    // "Expired before now_ms": a session expiring exactly at now_ms stays.
    assert_eq!(s.purge_sessions(10_000).await.unwrap(), 0);
    assert!(s.session(&by_user.access_key_id).await.unwrap().is_some());
    assert_eq!(s.purge_sessions(10_001).await.unwrap(), 1);
    assert_eq!(s.session(&by_user.access_key_id).await.unwrap(), None);
    assert_eq!(s.session(&by_role.access_key_id).await.unwrap(), Some(by_role.clone()), "unexpired sessions stay");
    assert_eq!(s.purge_sessions(10_001).await.unwrap(), 0, "idempotent");
    assert_eq!(s.purge_sessions(30_000).await.unwrap(), 2, "the role's and the root's");
    assert_eq!(s.session(&by_role.access_key_id).await.unwrap(), None);
    assert_eq!(s.session(&by_root.access_key_id).await.unwrap(), None);
}

/// Deleting a user takes its keys, policies and sessions (its own and the roles
/// it assumed); deleting a role takes its policies and sessions, nothing else. A
/// name used again starts clean.
pub async fn check_deletes_cascade(s: &dyn IdentityStore) {
    assert!(s.create_user("erin", 1).await.unwrap());
    assert!(s.create_user("frank", 1).await.unwrap());
    assert!(s.put_user_policy("erin", "read", READ).await.unwrap());
    assert_eq!(s.add_key(&key("AKIAERIN000000000001", "erin", true)).await.unwrap(), AddKey::Added);
    assert_eq!(s.add_key(&key("AKIAERIN000000000002", "erin", false)).await.unwrap(), AddKey::Added);
    assert!(s.create_role(&role("ops", &[("p", READ)])).await.unwrap());
    let far = 1 << 50;
    let sessions = [
        session("ASIAERIN000000000001", Principal::User("erin".into()), far),
        session("ASIAERIN000000000002", as_role("ops", "erin-ops", "erin"), far),
        session("ASIAFRANK00000000001", Principal::User("frank".into()), far),
        session("ASIAFRANK00000000002", as_role("ops", "frank-ops", "frank"), far),
    ];
    for x in &sessions {
        s.create_session(x).await.unwrap();
    }

    assert!(s.delete_user("erin").await.unwrap());
    assert_eq!(s.user("erin").await.unwrap(), None);
    assert_eq!(s.key("AKIAERIN000000000001").await.unwrap(), None, "keys go with their user");
    assert_eq!(s.key("AKIAERIN000000000002").await.unwrap(), None);
    assert_eq!(s.list_keys("erin").await.unwrap(), []);
    assert_eq!(s.session("ASIAERIN000000000001").await.unwrap(), None, "the user's own session");
    assert_eq!(s.session("ASIAERIN000000000002").await.unwrap(), None, "a role session the user assumed");
    assert!(s.session("ASIAFRANK00000000001").await.unwrap().is_some(), "other users' sessions stay");
    assert!(s.session("ASIAFRANK00000000002").await.unwrap().is_some());
    assert!(s.role("ops").await.unwrap().is_some(), "roles stay");

    assert!(s.create_user("erin", 2).await.unwrap(), "the name can be used again");
    assert_eq!(
        s.user("erin").await.unwrap(),
        Some(UserRecord { name: "erin".into(), created_ms: 2, policies: vec![] }),
        "without the old policies"
    );
    assert_eq!(s.list_keys("erin").await.unwrap(), [], "or keys");
    assert_eq!(s.add_key(&key("AKIAERIN000000000003", "erin", true)).await.unwrap(), AddKey::Added, "the old keys do not count");

    assert!(s.delete_role("ops").await.unwrap());
    assert_eq!(s.session("ASIAFRANK00000000002").await.unwrap(), None, "role sessions go with their role");
    assert_eq!(s.session("ASIAFRANK00000000001").await.unwrap(), Some(sessions[2].clone()), "user sessions stay");
    assert!(s.user("frank").await.unwrap().is_some());
    assert!(s.create_role(&role("ops", &[])).await.unwrap(), "the name can be used again");
    assert_eq!(s.role("ops").await.unwrap().unwrap().policies, [], "without the old policies");
}

/// The two-key limit holds when adds race.
pub async fn check_racing_key_adds(store: &Arc<dyn IdentityStore>) {
    assert!(store.create_user("racer", 1).await.unwrap());
    let outcomes = join_all((0..16).map(|i| {
        let s = store.clone();
        tokio::spawn(async move { s.add_key(&key(&format!("AKIARACE{i:012}"), "racer", true)).await.unwrap() })
    }))
    .await;
    let outcomes: Vec<AddKey> = outcomes.into_iter().map(Result::unwrap).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == AddKey::Added).count(), 2, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == AddKey::LimitExceeded).count(), 14, "{outcomes:?}");
    assert_eq!(store.list_keys("racer").await.unwrap().len(), 2);
}
