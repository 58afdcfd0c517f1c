//! Behaviour of the SQL store against a real database, every test on both
//! backends (`<test>::sqlite` and `<test>::postgres`): a fresh SQLite file,
//! and a fresh schema on the test PostgreSQL server
//! (`facegate_storage::testing`: skipped with a `SKIPPED` line when the
//! server is unreachable, a failure when `FACEGATE_REQUIRE_POSTGRES=1`).
//! The tests about SQLite's own files stay SQLite-only.

// Failing loudly is what a test is for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use facegate_domain::{
    Account, AccountId, AuthTransaction, Credential, CredentialId, Enrollment, EnrollmentRef,
    FacemapBinding, Locale, LocaleSet, ParentOrigin, PrivateCallbackTargets, RateLimit,
    RedirectUrl, Role, ScanSource, Similarity, TransactionRef, TransactionState, UserReference,
    VerificationStatus,
};
use facegate_domain::{
    AttemptOutcome, AttemptState, CaptureAttempt, CaptureSession, Challenge, Decision, FrameCounts,
    FrameCursor, LivenessRecord, LivenessVerdict,
};
use facegate_storage::prelude::*;
use facegate_storage::testing::PostgresSchema;
use facegate_storage::{
    AttemptFinish, CallbackRenderer, DatabaseUrl, DeliveryAttempt, Dialect, FrameOutcome,
    FrameProgress, ImageKind, NextStep, OutboxMessage, OutboxStatus, SealedImage, SqlStore,
    StoreError,
};
use sqlx::AnyPool;
use tempfile::TempDir;
use uuid::Uuid;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Runs the test `$name(db: TestDb)` once on each backend, as the tests
/// `$name::sqlite` and `$name::postgres`; `$attr` replaces `tokio::test`.
macro_rules! on_both {
    ($name:ident) => {
        on_both!($name, tokio::test);
    };
    ($name:ident, $attr:meta) => {
        mod $name {
            #[$attr]
            async fn sqlite() -> super::TestResult {
                super::$name(super::TestDb::sqlite()).await
            }

            #[$attr]
            async fn postgres() -> super::TestResult {
                match super::TestDb::postgres().await {
                    Some(db) => super::$name(db).await,
                    None => Ok(()),
                }
            }
        }
    };
}

/// One test's database, removed when dropped: a SQLite file in a temporary
/// directory, or a PostgreSQL schema of its own.
struct TestDb {
    url: DatabaseUrl,
    dir: Option<TempDir>,
    _schema: Option<PostgresSchema>,
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::sqlite_file(&dir.path().join("facegate.sqlite")).unwrap();
        TestDb {
            url,
            dir: Some(dir),
            _schema: None,
        }
    }

    /// `None` when PostgreSQL is skipped.
    async fn postgres() -> Option<TestDb> {
        let schema = PostgresSchema::create().await.unwrap()?;
        Some(TestDb {
            url: schema.url().clone(),
            dir: None,
            _schema: Some(schema),
        })
    }

    fn dialect(&self) -> Dialect {
        self.url.dialect()
    }

    /// A store on this database, not migrated.
    async fn open(&self) -> SqlStore {
        SqlStore::connect(&self.url, 4).await.unwrap()
    }

    /// A plain pool on the same database, for what the store's API does not
    /// show (erased columns) and for schemas of earlier migrations.
    async fn raw(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(self.url.expose_secret())
            .await
            .unwrap()
    }

    /// The SQLite file's directory.
    fn sqlite_dir(&self) -> &std::path::Path {
        self.dir.as_ref().expect("a SQLite database").path()
    }
}

/// Storage keeps milliseconds, so test times are whole milliseconds.
fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_767_225_600_000 + ms).unwrap()
}

/// A migrated store on the test's database.
async fn fresh(db: &TestDb) -> SqlStore {
    let store = db.open().await;
    store.migrate().await.unwrap();
    store
}

fn account() -> Account {
    Account {
        id: AccountId::new_random(),
        name: "Acme".into(),
        facemap_auth_enabled: true,
        callback_url: Some(RedirectUrl::from_trusted("https://acme.example/cb".into())),
        success_url: None,
        error_url: Some(RedirectUrl::from_trusted("https://acme.example/err".into())),
        default_token_lifetime_minutes: 30,
        default_locale: Locale::parse("en-GB", LocaleSet::Enrollment).unwrap(),
        webhook_salt: [7; 16],
        webhook_key_id: 3,
        webhook_previous: None,
        parent_origin: Some(ParentOrigin::from_trusted(
            "https://shop.acme.example".into(),
        )),
        refuse_pii_user_reference: false,
        callback_private_targets: PrivateCallbackTargets::NONE,
        scan_retention_days: 30,
        accepted_documents: facegate_domain::DocumentAcceptance::default(),
        created_at: at(0),
    }
}

fn enrollment(account: AccountId) -> Enrollment {
    Enrollment {
        reference: EnrollmentRef::new_random(),
        account,
        verification_status: Some(VerificationStatus::ApprovedVerified),
        similarity: Some(Similarity::Match),
        validity: Some(true),
        facemap: Some(FacemapBinding {
            serial: u64::MAX - 1,
            model: "arcface-v2".into(),
            revoked_at: None,
        }),
        server_facemap: Some(vec![1, 2, 3, 4]),
        created_at: at(10),
        deleted_at: None,
    }
}

fn transaction(e: &Enrollment, created_ms: i64) -> AuthTransaction {
    let reference = TransactionRef::new_random();
    let mut token_hash = [0u8; 32];
    token_hash[..16].copy_from_slice(reference.as_uuid().as_bytes());
    AuthTransaction {
        reference,
        account: e.account,
        enrollment: e.reference,
        state: TransactionState::Created,
        scan_source: ScanSource::Web,
        user_reference: Some(UserReference::from_trusted("user-42".into())),
        callback_url: Some(RedirectUrl::from_trusted("https://acme.example/cb".into())),
        success_url: None,
        error_url: None,
        locale: Locale::parse("ar", LocaleSet::Enrollment).unwrap(),
        token_hash,
        facemap: Some(vec![9; 64]),
        created_at: at(created_ms),
        expires_at: at(created_ms + 15 * 60_000),
        finalized_at: None,
        deleted_at: None,
        decision: None,
        face_image: false,
        liveness_images: 0,
    }
}

/// Renders a message for every final transaction and counts the calls.
#[derive(Default)]
struct Renderer {
    calls: AtomicUsize,
}

impl CallbackRenderer for Renderer {
    fn render(&self, tx: &AuthTransaction) -> Option<OutboxMessage> {
        assert!(tx.state.is_final(), "rendered a non-final transaction");
        assert!(
            tx.facemap.is_none(),
            "rendered with the facemap still present"
        );
        self.calls.fetch_add(1, Ordering::SeqCst);
        Some(OutboxMessage {
            id: Uuid::new_v4(),
            account: tx.account,
            transaction: tx.reference,
            event: "NETVERIFY_AUTHENTICATION".into(),
            url: "https://acme.example/cb".into(),
            body: format!("transactionStatus={}", tx.state.as_str()),
            created_at: tx.finalized_at.unwrap_or(tx.created_at),
        })
    }
}

impl Renderer {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// Sets up an account and an enrollment.
async fn seeded(db: &TestDb) -> (SqlStore, Account, Enrollment) {
    let store = fresh(db).await;
    let a = account();
    store.insert_account(&a).await.unwrap();
    let e = enrollment(a.id);
    store.insert_enrollment(&e).await.unwrap();
    (store, a, e)
}

on_both!(accounts_round_trip);
async fn accounts_round_trip(db: TestDb) -> TestResult {
    let store = fresh(&db).await;
    store.ping().await?;
    let mut a = account();
    store.insert_account(&a).await?;
    assert_eq!(store.account(a.id).await?, Some(a.clone()));
    assert!(matches!(
        store.insert_account(&a).await,
        Err(StoreError::Conflict(_))
    ));

    a.name = "Acme AG".into();
    a.facemap_auth_enabled = false;
    a.callback_url = None;
    a.success_url = Some(RedirectUrl::from_trusted("https://acme.example/ok".into()));
    a.default_token_lifetime_minutes = 5;
    a.default_locale = Locale::DEFAULT;
    a.webhook_salt = [9; 16];
    a.webhook_key_id = 4;
    a.parent_origin = None;
    assert!(store.update_account(&a).await?);
    assert_eq!(store.account(a.id).await?, Some(a.clone()));

    let mut b = account();
    b.created_at = at(1);
    store.insert_account(&b).await?;
    assert_eq!(store.list_accounts().await?, vec![a, b]);

    let unknown = Account {
        id: AccountId::new_random(),
        ..account()
    };
    assert!(!store.update_account(&unknown).await?);
    assert_eq!(store.account(unknown.id).await?, None);
    Ok(())
}

on_both!(an_account_round_trips_its_pii_check_and_private_callback_targets);
async fn an_account_round_trips_its_pii_check_and_private_callback_targets(
    db: TestDb,
) -> TestResult {
    let store = fresh(&db).await;
    let mut a = account();
    a.refuse_pii_user_reference = true;
    a.callback_private_targets =
        PrivateCallbackTargets::parse("10.1.0.0/16,receiver.corp.internal,fd12::/16").unwrap();
    store.insert_account(&a).await?;
    assert_eq!(store.account(a.id).await?, Some(a.clone()));

    a.refuse_pii_user_reference = false;
    a.callback_private_targets = PrivateCallbackTargets::parse("127.0.0.1").unwrap();
    assert!(store.update_account(&a).await?);
    assert_eq!(store.account(a.id).await?, Some(a.clone()));

    a.callback_private_targets = PrivateCallbackTargets::NONE;
    assert!(store.update_account(&a).await?);
    assert_eq!(store.list_accounts().await?, vec![a]);
    Ok(())
}

on_both!(an_account_round_trips_the_documents_it_accepts);
async fn an_account_round_trips_the_documents_it_accepts(db: TestDb) -> TestResult {
    use facegate_domain::{Country, DocumentAcceptance, DocumentType};
    let store = fresh(&db).await;
    let mut a = account();
    a.accepted_documents = DocumentAcceptance {
        document_types: vec![DocumentType::Passport, DocumentType::IdCard],
        countries: vec![
            Country::parse("AUT", "c").unwrap(),
            Country::parse("XKX", "c").unwrap(),
        ],
        accept_expired: true,
    };
    store.insert_account(&a).await?;
    assert_eq!(store.account(a.id).await?, Some(a.clone()));
    a.accepted_documents = DocumentAcceptance::default();
    assert!(store.update_account(&a).await?);
    assert_eq!(store.account(a.id).await?, Some(a.clone()));
    Ok(())
}

// Accounts made before migration 0006 get the defaults: no PII check, no
// private callback targets.
on_both!(accounts_from_before_the_settings_migration_get_the_defaults);
async fn accounts_from_before_the_settings_migration_get_the_defaults(db: TestDb) -> TestResult {
    let pool = database_before("0006", &db).await?;
    let id = AccountId::new_random();
    insert_old_account(&pool, id).await?;
    pool.close().await;
    let store = db.open().await;
    store.migrate().await?;
    let old = store.account(id).await?.unwrap();
    assert_eq!(old.name, "Old");
    assert!(!old.refuse_pii_user_reference);
    assert_eq!(old.callback_private_targets, PrivateCallbackTargets::NONE);
    // And, from migration 0009, accept every document but an expired one.
    assert_eq!(
        old.accepted_documents,
        facegate_domain::DocumentAcceptance::default()
    );
    Ok(())
}

/// The test's database at the schema before `migration`: every migration of
/// its backend before it, from the crate's own files, as an upgraded
/// deployment has it.
async fn database_before(migration: &str, db: &TestDb) -> TestResult<AnyPool> {
    let earlier = tempfile::tempdir()?;
    let backend = match db.dialect() {
        Dialect::Sqlite => "sqlite",
        Dialect::Postgres => "postgres",
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut copied = 0;
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().as_ref() < migration {
            std::fs::copy(entry.path(), earlier.path().join(entry.file_name()))?;
            copied += 1;
        }
    }
    assert!(copied > 0, "no migration before {migration}");
    let pool = db.raw().await;
    sqlx::migrate::Migrator::new(earlier.path())
        .await?
        .run(&pool)
        .await?;
    Ok(pool)
}

/// An account row with only the columns of the first schema.
async fn insert_old_account(pool: &AnyPool, id: AccountId) -> TestResult {
    sqlx::query(
        "INSERT INTO accounts (id, name, facemap_auth_enabled, default_token_lifetime_minutes, \
         default_locale, webhook_salt, webhook_key_id, created_at) \
         VALUES ($1, 'Old', 1, 30, 'en', $2, 1, 0)",
    )
    .bind(id.to_string())
    .bind([3u8; 16].as_slice())
    .execute(pool)
    .await?;
    Ok(())
}

on_both!(credentials_round_trip);
async fn credentials_round_trip(db: TestDb) -> TestResult {
    let store = fresh(&db).await;
    let a = account();
    store.insert_account(&a).await?;
    let api = Credential {
        id: CredentialId::new_random(),
        account: a.id,
        token: "tok-api".into(),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: Role::Api,
        created_at: at(1),
        revoked_at: None,
    };
    let admin = Credential {
        id: CredentialId::new_random(),
        token: "tok-admin".into(),
        role: Role::Admin,
        created_at: at(2),
        ..api.clone()
    };
    let all = Credential {
        id: CredentialId::new_random(),
        token: "tok-all".into(),
        role: Role::All,
        created_at: at(3),
        ..api.clone()
    };
    store.insert_credential(&api).await?;
    store.insert_credential(&admin).await?;
    store.insert_credential(&all).await?;
    assert_eq!(
        store.credential_by_token("tok-all").await?,
        Some(all.clone())
    );
    let dup = Credential {
        id: CredentialId::new_random(),
        ..api.clone()
    };
    assert!(matches!(
        store.insert_credential(&dup).await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(
        store.credential_by_token("tok-api").await?,
        Some(api.clone())
    );
    assert_eq!(store.credential_by_token("nope").await?, None);

    assert!(store.revoke_credential("tok-api", at(5)).await?);
    assert!(!store.revoke_credential("tok-api", at(6)).await?);
    assert!(!store.revoke_credential("nope", at(6)).await?);
    let revoked = Credential {
        revoked_at: Some(at(5)),
        ..api
    };
    assert_eq!(
        store.credential_by_token("tok-api").await?,
        Some(revoked.clone())
    );

    assert_eq!(
        store.list_credentials(a.id).await?,
        vec![revoked, admin, all]
    );
    assert!(store
        .list_credentials(AccountId::new_random())
        .await?
        .is_empty());
    Ok(())
}

on_both!(api_and_admin_credentials_keep_their_roles_across_the_all_role_migration);
async fn api_and_admin_credentials_keep_their_roles_across_the_all_role_migration(
    db: TestDb,
) -> TestResult {
    let pool = database_before("0007", &db).await?;
    let a = AccountId::new_random();
    insert_old_account(&pool, a).await?;
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    for (n, role, revoked) in [(1i64, "api", None), (2, "admin", Some(9i64))] {
        sqlx::query(
            "INSERT INTO credentials (id, account, token, secret_hash, role, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(a.to_string())
        .bind(format!("tok-{role}"))
        .bind(hash)
        .bind(role)
        .bind(n)
        .bind(revoked)
        .execute(&pool)
        .await?;
    }
    let refused = sqlx::query(
        "INSERT INTO credentials (id, account, token, secret_hash, role, created_at) \
         VALUES ('x', $1, 'tok-all', 'h', 'all', 3)",
    )
    .bind(a.to_string())
    .execute(&pool)
    .await;
    assert!(refused.is_err(), "the old schema knows no `all` role");
    pool.close().await;

    let store = db.open().await;
    store.migrate().await?;
    let kept = store.list_credentials(a).await?;
    let roles: Vec<_> = kept.iter().map(|c| (c.token.as_str(), c.role)).collect();
    assert_eq!(roles, [("tok-api", Role::Api), ("tok-admin", Role::Admin)]);
    assert!(kept.iter().all(|c| c.secret_hash == hash && c.account == a));
    assert_eq!(kept[0].revoked_at, None);
    assert!(kept[1].revoked_at.is_some(), "revocation survives");
    let all = Credential {
        id: CredentialId::new_random(),
        token: "tok-all".into(),
        role: Role::All,
        created_at: at(3),
        ..kept[0].clone()
    };
    store.insert_credential(&all).await?;
    assert_eq!(store.credential_by_token("tok-all").await?, Some(all));
    // The rebuilt table keeps its constraints: one token, known roles.
    let dup = Credential {
        id: CredentialId::new_random(),
        ..kept[0].clone()
    };
    assert!(matches!(
        store.insert_credential(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    Ok(())
}

on_both!(enrollments_round_trip_and_tombstone);
async fn enrollments_round_trip_and_tombstone(db: TestDb) -> TestResult {
    let (store, a, e) = seeded(&db).await;
    assert_eq!(store.enrollment(e.reference).await?, Some(e.clone()));
    assert_eq!(store.enrollment(EnrollmentRef::new_random()).await?, None);

    // An undecided enrollment without a binding round-trips too.
    let bare = Enrollment {
        reference: EnrollmentRef::new_random(),
        verification_status: None,
        similarity: None,
        validity: None,
        facemap: None,
        server_facemap: None,
        ..enrollment(a.id)
    };
    store.insert_enrollment(&bare).await?;
    assert_eq!(store.enrollment(bare.reference).await?, Some(bare.clone()));
    assert!(!store.revoke_facemap(bare.reference, at(20)).await?);

    assert!(store.delete_enrollment(e.reference, at(100)).await?);
    assert!(!store.delete_enrollment(e.reference, at(200)).await?);
    assert!(
        !store
            .delete_enrollment(EnrollmentRef::new_random(), at(200))
            .await?
    );
    let tomb = store
        .enrollment(e.reference)
        .await?
        .ok_or("tombstone missing")?;
    assert_eq!(tomb, e.clone().into_tombstone(at(100)));
    assert!(tomb.server_facemap.is_none());
    assert_eq!(tomb.facemap, e.facemap);
    assert!(tomb.eligible_for_facemap_auth().is_ok());

    // The binding in the tombstone can still be revoked, once.
    assert!(store.revoke_facemap(e.reference, at(300)).await?);
    assert!(!store.revoke_facemap(e.reference, at(400)).await?);
    let revoked = store
        .enrollment(e.reference)
        .await?
        .ok_or("tombstone missing")?;
    assert_eq!(
        revoked.facemap.as_ref().and_then(|b| b.revoked_at),
        Some(at(300))
    );
    Ok(())
}

on_both!(transactions_round_trip);
async fn transactions_round_trip(db: TestDb) -> TestResult {
    let (store, _a, e) = seeded(&db).await;
    let r = Renderer::default();
    let tx = transaction(&e, 100);
    assert!(store
        .initiate_transaction(&tx, RateLimit::OFF, &r)
        .await?
        .is_empty());
    assert_eq!(r.calls(), 0);
    assert_eq!(store.transaction(tx.reference).await?, Some(tx.clone()));
    assert_eq!(
        store.transaction_by_token_hash(&tx.token_hash).await?,
        Some(tx.clone())
    );
    assert_eq!(store.transaction(TransactionRef::new_random()).await?, None);
    assert_eq!(store.transaction_by_token_hash(&[0; 32]).await?, None);

    // A duplicate reference is refused and undoes the whole initiation.
    let dup = AuthTransaction {
        token_hash: [1; 32],
        ..tx.clone()
    };
    assert!(matches!(
        store.initiate_transaction(&dup, RateLimit::OFF, &r).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.transaction(tx.reference).await?, Some(tx.clone()));
    assert_eq!(
        r.calls(),
        1,
        "the renderer ran inside the rolled-back transaction"
    );
    assert!(store
        .callbacks_for_transaction(tx.account, tx.reference)
        .await?
        .is_empty());

    assert!(store.mark_started(tx.reference, at(150)).await?);
    assert!(!store.mark_started(tx.reference, at(160)).await?);
    let started = store.transaction(tx.reference).await?.ok_or("missing")?;
    assert_eq!(started.state, TransactionState::Started);
    assert_eq!(started.facemap, tx.facemap);
    Ok(())
}

on_both!(a_new_transaction_expires_the_open_one_of_its_enrollment_only);
async fn a_new_transaction_expires_the_open_one_of_its_enrollment_only(db: TestDb) -> TestResult {
    let (store, a, e) = seeded(&db).await;
    let other = enrollment(a.id);
    store.insert_enrollment(&other).await?;
    let r = Renderer::default();

    let first = transaction(&e, 100);
    let bystander = transaction(&other, 150);
    store
        .initiate_transaction(&first, RateLimit::OFF, &r)
        .await?;
    store
        .initiate_transaction(&bystander, RateLimit::OFF, &r)
        .await?;
    let second = transaction(&e, 200);
    assert_eq!(
        store
            .initiate_transaction(&second, RateLimit::OFF, &r)
            .await?,
        vec![first.reference]
    );
    assert_eq!(r.calls(), 1);

    let expired = store.transaction(first.reference).await?.ok_or("missing")?;
    assert_eq!(expired.state, TransactionState::Expired);
    assert_eq!(expired.finalized_at, Some(second.created_at));
    assert_eq!(expired.facemap, None);
    assert_eq!(expired.user_reference, first.user_reference);

    let callbacks = store
        .callbacks_for_transaction(a.id, first.reference)
        .await?;
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0].status, OutboxStatus::Pending);
    assert_eq!(callbacks[0].next_attempt_at, Some(second.created_at));
    assert_eq!(callbacks[0].message.body, "transactionStatus=EXPIRED");
    assert!(callbacks[0].attempts.is_empty());

    assert_eq!(store.transaction(second.reference).await?, Some(second));
    assert_eq!(
        store.transaction(bystander.reference).await?,
        Some(bystander.clone())
    );
    assert!(store
        .callbacks_for_transaction(a.id, bystander.reference)
        .await?
        .is_empty());
    Ok(())
}

// Two stores on one database are two server nodes (or a server and a CLI).
on_both!(
    concurrent_initiations_from_two_stores_leave_exactly_one_open,
    tokio::test(flavor = "multi_thread", worker_threads = 4)
);
async fn concurrent_initiations_from_two_stores_leave_exactly_one_open(db: TestDb) -> TestResult {
    let (store, a, e) = seeded(&db).await;
    let store = Arc::new(store);
    let other = Arc::new(db.open().await);
    let renderer = Arc::new(Renderer::default());
    let start = Arc::new(tokio::sync::Barrier::new(20));

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let node = if i % 2 == 0 { &store } else { &other };
            let (store, renderer, start) =
                (Arc::clone(node), Arc::clone(&renderer), Arc::clone(&start));
            let tx = transaction(&e, 100 + i);
            tokio::spawn(async move {
                start.wait().await;
                store
                    .initiate_transaction(&tx, RateLimit::OFF, renderer.as_ref())
                    .await
                    .map(|_| tx.reference)
            })
        })
        .collect();
    let mut refs = Vec::new();
    for task in tasks {
        refs.push(task.await??);
    }

    let mut open = 0;
    let mut callbacks = 0;
    for reference in refs {
        let tx = store.transaction(reference).await?.ok_or("missing")?;
        if tx.state.is_final() {
            assert_eq!(tx.state, TransactionState::Expired);
            assert_eq!(tx.facemap, None);
        } else {
            open += 1;
            assert!(tx.facemap.is_some());
        }
        callbacks += store
            .callbacks_for_transaction(a.id, reference)
            .await?
            .len();
    }
    assert_eq!(open, 1);
    assert_eq!(callbacks, 19);
    assert_eq!(renderer.calls(), 19);
    assert_eq!(
        store
            .claim_due_callbacks(at(1_000_000), Duration::minutes(1), 100)
            .await?
            .len(),
        19
    );
    Ok(())
}

// The per-account initiation limit is one bucket in the database: two
// stores (two nodes) take from it alike, and a refused initiation writes
// nothing (the open transaction stays open, no row, no budget taken).
on_both!(the_initiation_budget_is_shared_by_every_store_and_a_refusal_writes_nothing);
async fn the_initiation_budget_is_shared_by_every_store_and_a_refusal_writes_nothing(
    db: TestDb,
) -> TestResult {
    let (store, a, e) = seeded(&db).await;
    let other = db.open().await;
    let r = Renderer::default();
    let limit = RateLimit::per_minute(4);
    let mut accepted = Vec::new();
    for i in 0..4 {
        let node = if i % 2 == 0 { &store } else { &other };
        let tx = transaction(&e, 100 + i);
        node.initiate_transaction(&tx, limit, &r).await?;
        accepted.push(tx.reference);
    }
    for node in [&store, &other] {
        let refused = transaction(&e, 200);
        match node.initiate_transaction(&refused, limit, &r).await {
            // 4 a minute refill one every 15 s.
            Err(StoreError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 15),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(node.transaction(refused.reference).await?.is_none());
    }
    let last = store
        .transaction(*accepted.last().ok_or("none accepted")?)
        .await?
        .ok_or("missing")?;
    assert!(
        !last.state.is_final(),
        "a refused initiation expired the open one"
    );
    assert_eq!(
        store
            .callbacks_for_transaction(a.id, last.reference)
            .await?
            .len(),
        0
    );
    // Another account has a budget of its own; 15 s after the last take
    // (at 103 ms) this one has one more.
    let b = Account {
        id: AccountId::new_random(),
        ..account()
    };
    store.insert_account(&b).await?;
    let f = enrollment(b.id);
    store.insert_enrollment(&f).await?;
    other
        .initiate_transaction(&transaction(&f, 300), limit, &r)
        .await?;
    other
        .initiate_transaction(&transaction(&e, 103 + 15_000), limit, &r)
        .await?;
    assert!(matches!(
        store
            .initiate_transaction(&transaction(&e, 103 + 15_001), limit, &r)
            .await,
        Err(StoreError::RateLimited { .. })
    ));
    Ok(())
}

// SQLite's group commit: initiations that share one commit keep each
// other's writes apart. A duplicate among them fails alone; callers
// cancelled at any point leave each initiation whole or absent, and the
// store goes on working (no batch left open).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_committed_initiations_fail_and_cancel_one_by_one() -> TestResult {
    let db = TestDb::sqlite();
    let (store, a, e) = seeded(&db).await;
    let store = Arc::new(store);
    let renderer = Arc::new(Renderer::default());
    let start = Arc::new(tokio::sync::Barrier::new(60));
    let original = transaction(&e, 50);
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let (store, renderer, start) = (
                Arc::clone(&store),
                Arc::clone(&renderer),
                Arc::clone(&start),
            );
            // Every 10th is a duplicate of one reference: one of them wins.
            let mut tx = transaction(&e, 100 + i);
            if i % 10 == 0 {
                tx.reference = original.reference;
                tx.token_hash = original.token_hash;
            }
            tokio::spawn(async move {
                start.wait().await;
                let call = store.initiate_transaction(&tx, RateLimit::OFF, renderer.as_ref());
                // A third are cancelled after up to 3 ms, at whatever step.
                let outcome = match i % 3 {
                    0 => tokio::time::timeout(
                        std::time::Duration::from_micros((i * 97 % 3_000) as u64),
                        call,
                    )
                    .await
                    .ok(),
                    _ => Some(call.await),
                };
                (i, tx.reference, outcome)
            })
        })
        .collect();
    let mut stored = Vec::new();
    let mut duplicates_won = 0;
    for task in tasks {
        let (i, reference, outcome) = task.await?;
        let found = store.transaction(reference).await?;
        match outcome {
            Some(Ok(_)) => {
                assert!(found.is_some(), "an answered initiation is missing");
            }
            Some(Err(StoreError::Conflict(_))) => assert_eq!(i % 10, 0, "only duplicates conflict"),
            Some(Err(other)) => return Err(format!("initiation {i} failed: {other}").into()),
            // Cancelled: whole or absent, checked below through the invariants.
            None => {}
        }
        if i % 10 == 0 {
            duplicates_won += usize::from(matches!(outcome, Some(Ok(_))));
        } else if found.is_some() {
            stored.push(reference);
        }
    }
    assert!(duplicates_won <= 1);
    if store.transaction(original.reference).await?.is_some() {
        stored.push(original.reference);
    }
    // Every initiation that stayed expired the one before it, with its
    // callback: exactly one open, one callback per expired one.
    let mut open = 0;
    for reference in &stored {
        let tx = store.transaction(*reference).await?.ok_or("missing")?;
        let callbacks = store
            .callbacks_for_transaction(a.id, *reference)
            .await?
            .len();
        if tx.state.is_final() {
            assert_eq!((tx.state, callbacks), (TransactionState::Expired, 1));
        } else {
            open += 1;
            assert_eq!(callbacks, 0);
        }
    }
    assert_eq!(open, 1, "{} stored", stored.len());
    let after = transaction(&e, 10_000);
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        store.initiate_transaction(&after, RateLimit::OFF, renderer.as_ref()),
    )
    .await
    .map_err(|_| "the store is stuck after cancelled initiations")??;
    Ok(())
}

// Each node's delivery worker claims with both claims; whatever the
// interleaving, every due callback is claimed by exactly one of them.
on_both!(
    two_stores_claiming_at_once_claim_each_callback_exactly_once,
    tokio::test(flavor = "multi_thread", worker_threads = 4)
);
async fn two_stores_claiming_at_once_claim_each_callback_exactly_once(db: TestDb) -> TestResult {
    let (store, _a, e) = seeded(&db).await;
    let r = Renderer::default();
    // Each initiation expires the one before it: 24 callbacks due.
    for i in 0..25 {
        store
            .initiate_transaction(&transaction(&e, i), RateLimit::OFF, &r)
            .await?;
    }
    assert_eq!(r.calls(), 24);
    let nodes = [Arc::new(store), Arc::new(db.open().await)];
    let workers = 6;
    let start = Arc::new(tokio::sync::Barrier::new(workers));
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (store, start) = (Arc::clone(&nodes[w % 2]), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                let mut claimed = Vec::new();
                loop {
                    let fairness = facegate_storage::ClaimFairness {
                        per_account: 100,
                        in_flight: vec![],
                    };
                    let now = at(10_000_000);
                    let lease = Duration::minutes(5);
                    let batch = if w % 3 == 0 {
                        store.claim_due_callbacks(now, lease, 2).await?
                    } else {
                        store
                            .claim_due_callbacks_fair(now, lease, 2, &fairness)
                            .await?
                    };
                    if batch.is_empty() {
                        return Ok::<_, StoreError>(claimed);
                    }
                    claimed.extend(batch.into_iter().map(|p| p.message.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let claims = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), claims, "a callback was claimed twice");
    assert_eq!(claims, 24, "every due callback is claimed");
    Ok(())
}

/// Nodes that start together on a new database migrate it once between
/// them: PostgreSQL's migrator holds an advisory lock while it runs. (A
/// SQLite database has one server.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_stores_migrating_one_fresh_postgres_schema_at_once_all_succeed() -> TestResult {
    let Some(db) = TestDb::postgres().await else {
        return Ok(());
    };
    let nodes = [db.open().await, db.open().await, db.open().await];
    let (a, b, c) = tokio::join!(nodes[0].migrate(), nodes[1].migrate(), nodes[2].migrate());
    a?;
    b?;
    c?;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&db.raw().await)
        .await?;
    let files = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres"),
    )?
    .count();
    assert_eq!(usize::try_from(applied)?, files);
    let account = account();
    nodes[0].insert_account(&account).await?;
    assert_eq!(nodes[2].account(account.id).await?, Some(account));
    Ok(())
}

on_both!(finalize_happens_once_and_erases_the_facemap);
async fn finalize_happens_once_and_erases_the_facemap(db: TestDb) -> TestResult {
    let (store, a, e) = seeded(&db).await;
    let r = Renderer::default();
    let tx = transaction(&e, 100);
    store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;

    let done = store
        .finalize_transaction(tx.reference, TransactionState::Passed, at(500), &r)
        .await?
        .ok_or("not finalised")?;
    assert_eq!(done.state, TransactionState::Passed);
    assert_eq!(done.finalized_at, Some(at(500)));
    assert_eq!(done.facemap, None);
    assert_eq!(store.transaction(tx.reference).await?, Some(done.clone()));

    let again = store
        .finalize_transaction(tx.reference, TransactionState::Failed, at(600), &r)
        .await?;
    assert_eq!(again, None);
    assert_eq!(store.transaction(tx.reference).await?, Some(done));
    assert_eq!(r.calls(), 1);
    assert_eq!(
        store
            .callbacks_for_transaction(a.id, tx.reference)
            .await?
            .len(),
        1
    );

    let unknown = store
        .finalize_transaction(
            TransactionRef::new_random(),
            TransactionState::Failed,
            at(600),
            &r,
        )
        .await?;
    assert_eq!(unknown, None);
    assert!(store
        .finalize_transaction(tx.reference, TransactionState::Started, at(600), &r)
        .await
        .is_err());
    assert!(!store.mark_started(tx.reference, at(700)).await?);
    Ok(())
}

on_both!(overdue_lists_only_open_overdue_transactions);
async fn overdue_lists_only_open_overdue_transactions(db: TestDb) -> TestResult {
    let (store, a, _e) = seeded(&db).await;
    let r = Renderer::default();
    // One enrollment per transaction, so that none supersedes another.
    let mut txs = Vec::new();
    for created in [0, 1_000, 2_000, 3_000] {
        let e = enrollment(a.id);
        store.insert_enrollment(&e).await?;
        let mut tx = transaction(&e, created);
        tx.expires_at = at(created + 10_000);
        store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;
        txs.push(tx);
    }
    store.mark_started(txs[1].reference, at(1_500)).await?;
    store
        .finalize_transaction(txs[0].reference, TransactionState::Failed, at(5_000), &r)
        .await?;

    let now = at(12_000);
    let overdue = store.overdue_transactions(now, 10).await?;
    assert_eq!(overdue, vec![txs[1].reference, txs[2].reference]);
    assert_eq!(
        store.overdue_transactions(now, 1).await?,
        vec![txs[1].reference]
    );
    assert!(store.overdue_transactions(at(9_999), 10).await?.is_empty());
    Ok(())
}

on_both!(deleting_an_open_transaction_expires_it_then_hides_it);
async fn deleting_an_open_transaction_expires_it_then_hides_it(db: TestDb) -> TestResult {
    let (store, a, e) = seeded(&db).await;
    let r = Renderer::default();
    let tx = transaction(&e, 100);
    store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;

    assert!(store.delete_transaction(tx.reference, at(900)).await?);
    assert_eq!(r.calls(), 0, "a deleted transaction queues no callback");
    assert_eq!(store.transaction(tx.reference).await?, None);
    assert_eq!(store.transaction_by_token_hash(&tx.token_hash).await?, None);
    assert!(store
        .overdue_transactions(at(100_000_000), 10)
        .await?
        .is_empty());
    assert!(store
        .callbacks_for_transaction(a.id, tx.reference)
        .await?
        .is_empty());

    assert!(!store.delete_transaction(tx.reference, at(950)).await?);
    assert!(
        !store
            .delete_transaction(TransactionRef::new_random(), at(950))
            .await?
    );

    // A final transaction loses its callbacks, delivered or not, with their
    // delivery history.
    let done = transaction(&e, 1_000);
    store
        .initiate_transaction(&done, RateLimit::OFF, &r)
        .await?;
    store
        .finalize_transaction(done.reference, TransactionState::Passed, at(1_100), &r)
        .await?;
    let claimed = store
        .claim_due_callbacks(at(1_100), Duration::seconds(30), 10)
        .await?;
    store
        .record_attempt(
            &attempt(claimed[0].message.id, 1, 1_150, false),
            NextStep::RetryAt(at(60_000)),
        )
        .await?;
    assert!(store.delete_transaction(done.reference, at(1_200)).await?);
    assert_eq!(r.calls(), 1);
    assert_eq!(store.transaction(done.reference).await?, None);
    assert!(store
        .callbacks_for_transaction(a.id, done.reference)
        .await?
        .is_empty());
    assert!(store
        .claim_due_callbacks(at(100_000_000), Duration::seconds(30), 10)
        .await?
        .is_empty());
    // The worker that held the erased message reports into the void.
    store
        .record_attempt(
            &attempt(claimed[0].message.id, 2, 1_300, true),
            NextStep::Delivered,
        )
        .await?;
    assert!(store
        .callbacks_for_transaction(a.id, done.reference)
        .await?
        .is_empty());

    // The enrollment can start a new transaction afterwards.
    let next = transaction(&e, 2_000);
    assert!(store
        .initiate_transaction(&next, RateLimit::OFF, &r)
        .await?
        .is_empty());
    Ok(())
}

on_both!(failed_transactions_count_per_enrollment_until_one_passes);
async fn failed_transactions_count_per_enrollment_until_one_passes(db: TestDb) -> TestResult {
    let (store, _a, e) = seeded(&db).await;
    let r = Renderer::default();
    let finish = |state: TransactionState, ms: i64| {
        let store = &store;
        let r = &r;
        let e = &e;
        async move {
            let tx = transaction(e, ms);
            store
                .initiate_transaction(&tx, RateLimit::OFF, r)
                .await
                .unwrap();
            store
                .finalize_transaction(tx.reference, state, at(ms + 10), r)
                .await
                .unwrap();
            tx.reference
        }
    };
    assert_eq!(store.failure_streak(e.reference).await?.consecutive, 0);
    let first = finish(TransactionState::Failed, 1_000).await;
    finish(TransactionState::Invalid, 2_000).await;
    finish(TransactionState::Expired, 3_000).await;
    finish(TransactionState::Failed, 4_000).await;
    let streak = store.failure_streak(e.reference).await?;
    assert_eq!(
        (streak.consecutive, streak.last_failure_at),
        (2, Some(at(4_010))),
        "INVALID and EXPIRED neither count nor end the run"
    );
    // Deleting the failed transactions does not end the run.
    assert!(store.delete_transaction(first, at(5_000)).await?);
    assert_eq!(store.failure_streak(e.reference).await?.consecutive, 2);
    // Another enrollment has its own run.
    let other = enrollment(e.account);
    store.insert_enrollment(&other).await?;
    assert_eq!(store.failure_streak(other.reference).await?.consecutive, 0);
    // The initiation's read: the enrollment with its streak, in one query.
    let (read, joined) = store.enrollment_with_streak(e.reference).await?.unwrap();
    assert_eq!((read.reference, joined), (e.reference, streak));
    let (_, none) = store
        .enrollment_with_streak(other.reference)
        .await?
        .unwrap();
    assert_eq!(none, facegate_domain::FailureStreak::default());
    assert!(store
        .enrollment_with_streak(facegate_domain::EnrollmentRef::new_random())
        .await?
        .is_none());

    finish(TransactionState::Passed, 6_000).await;
    assert_eq!(
        store.failure_streak(e.reference).await?,
        facegate_domain::FailureStreak::default()
    );
    Ok(())
}

on_both!(finished_callbacks_lose_their_body_and_are_erased_after_retention);
async fn finished_callbacks_lose_their_body_and_are_erased_after_retention(
    db: TestDb,
) -> TestResult {
    let (store, a, e) = seeded(&db).await;
    let r = Renderer::default();
    let mut ids = Vec::new();
    // Queued at 100, 1_100 and 2_100 ms.
    for (ms, state) in [
        (0, TransactionState::Passed),
        (1_000, TransactionState::Failed),
        (2_000, TransactionState::Invalid),
    ] {
        let tx = transaction(&e, ms);
        store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;
        store
            .finalize_transaction(tx.reference, state, at(ms + 100), &r)
            .await?;
        ids.push(tx.reference);
    }
    let claimed = store
        .claim_due_callbacks(at(10_000), Duration::seconds(30), 10)
        .await?;
    assert_eq!(claimed.len(), 3);
    let outcome = [
        NextStep::Delivered,
        NextStep::GiveUp,
        NextStep::RetryAt(at(60_000)),
    ];
    for (pending, next) in claimed.iter().zip(outcome) {
        let delivered = next == NextStep::Delivered;
        store
            .record_attempt(&attempt(pending.message.id, 1, 10_000, delivered), next)
            .await?;
    }
    let bodies = |records: Vec<facegate_storage::CallbackRecord>| {
        records
            .into_iter()
            .map(|c| c.message.body)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        bodies(store.callbacks_for_transaction(a.id, ids[0]).await?),
        vec![String::new()],
        "a delivered body is erased"
    );
    assert_eq!(
        bodies(store.callbacks_for_transaction(a.id, ids[1]).await?),
        vec![String::new()],
        "a body given up on is erased"
    );
    assert_eq!(
        bodies(store.callbacks_for_transaction(a.id, ids[2]).await?),
        vec!["transactionStatus=INVALID".to_owned()],
        "a body still to be retried stays"
    );

    // Retention counts from the message's creation; pending ones stay.
    assert_eq!(store.purge_callback_history(at(0)).await?, 0);
    assert_eq!(store.purge_callback_history(at(3_000)).await?, 2);
    for (reference, left) in ids.iter().zip([0, 0, 1]) {
        let records = store.callbacks_for_transaction(a.id, *reference).await?;
        assert_eq!(records.len(), left);
    }
    assert_eq!(store.purge_callback_history(at(10_000_000)).await?, 0);
    Ok(())
}

fn attempt(id: Uuid, no: u32, at_ms: i64, delivered: bool) -> DeliveryAttempt {
    DeliveryAttempt {
        outbox_id: id,
        attempt_no: no,
        at: at(at_ms),
        delivered,
        status: Some(if delivered { 200 } else { 503 }),
        error: (!delivered).then(|| "http_status".to_owned()),
        detail: (!delivered).then(|| "503 Service Unavailable".to_owned()),
        duration_ms: 42,
    }
}

on_both!(outbox_claims_respect_due_time_and_lease);
async fn outbox_claims_respect_due_time_and_lease(db: TestDb) -> TestResult {
    let (store, a, e) = seeded(&db).await;
    let r = Renderer::default();
    let tx = transaction(&e, 0);
    store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;
    store
        .finalize_transaction(tx.reference, TransactionState::Passed, at(1_000), &r)
        .await?;

    // Not yet due.
    assert!(store
        .claim_due_callbacks(at(999), Duration::seconds(30), 10)
        .await?
        .is_empty());

    let claimed = store
        .claim_due_callbacks(at(1_000), Duration::seconds(30), 10)
        .await?;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 0);
    assert_eq!(claimed[0].first_attempt_at, None);
    assert_eq!(claimed[0].message.transaction, tx.reference);
    let id = claimed[0].message.id;

    // Leased: nobody else gets it until the lease ends.
    assert!(store
        .claim_due_callbacks(at(2_000), Duration::seconds(30), 10)
        .await?
        .is_empty());
    assert!(store
        .claim_due_callbacks(at(30_999), Duration::seconds(30), 10)
        .await?
        .is_empty());
    let reclaimed = store
        .claim_due_callbacks(at(31_000), Duration::seconds(30), 10)
        .await?;
    assert_eq!(reclaimed.len(), 1);

    // A limit of zero claims nothing.
    assert!(store
        .claim_due_callbacks(at(100_000), Duration::seconds(30), 0)
        .await?
        .is_empty());

    // Retry: pending again, due at the given time, the attempt counted.
    store
        .record_attempt(
            &attempt(id, 1, 31_500, false),
            NextStep::RetryAt(at(60_000)),
        )
        .await?;
    assert!(store
        .claim_due_callbacks(at(59_999), Duration::seconds(30), 10)
        .await?
        .is_empty());
    let retried = store
        .claim_due_callbacks(at(60_000), Duration::seconds(30), 10)
        .await?;
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(retried[0].first_attempt_at, Some(at(31_500)));

    // Delivered: never claimed again.
    store
        .record_attempt(&attempt(id, 2, 60_100, true), NextStep::Delivered)
        .await?;
    assert!(store
        .claim_due_callbacks(at(10_000_000), Duration::seconds(30), 10)
        .await?
        .is_empty());

    // A late report from another worker does not undo the delivery.
    store
        .record_attempt(&attempt(id, 3, 60_200, false), NextStep::GiveUp)
        .await?;
    let records = store.callbacks_for_transaction(a.id, tx.reference).await?;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, OutboxStatus::Delivered);
    assert_eq!(records[0].next_attempt_at, None);
    assert_eq!(
        records[0].attempts,
        vec![
            attempt(id, 1, 31_500, false),
            attempt(id, 2, 60_100, true),
            attempt(id, 3, 60_200, false)
        ]
    );

    // The same attempt number twice is a conflict.
    let dup = store
        .record_attempt(&attempt(id, 3, 60_300, false), NextStep::GiveUp)
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));
    Ok(())
}

on_both!(outbox_gives_up_and_filters_by_account);
async fn outbox_gives_up_and_filters_by_account(db: TestDb) -> TestResult {
    let (store, a, e) = seeded(&db).await;
    let r = Renderer::default();
    let first = transaction(&e, 0);
    store
        .initiate_transaction(&first, RateLimit::OFF, &r)
        .await?;
    let second = transaction(&e, 1_000);
    store
        .initiate_transaction(&second, RateLimit::OFF, &r)
        .await?;
    store
        .finalize_transaction(second.reference, TransactionState::Invalid, at(2_000), &r)
        .await?;

    let claimed = store
        .claim_due_callbacks(at(5_000), Duration::seconds(30), 1)
        .await?;
    assert_eq!(claimed.len(), 1, "the limit holds");
    assert_eq!(
        claimed[0].message.transaction, first.reference,
        "oldest due first"
    );
    let id = claimed[0].message.id;
    store
        .record_attempt(&attempt(id, 1, 5_000, false), NextStep::GiveUp)
        .await?;

    let records = store
        .callbacks_for_transaction(a.id, first.reference)
        .await?;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, OutboxStatus::Failed);
    assert_eq!(records[0].next_attempt_at, None);
    assert_eq!(records[0].attempts.len(), 1);

    // Another account sees nothing of this account's callbacks.
    assert!(store
        .callbacks_for_transaction(AccountId::new_random(), first.reference)
        .await?
        .is_empty());
    assert!(store
        .callbacks_for_transaction(a.id, TransactionRef::new_random())
        .await?
        .is_empty());

    // Only the second transaction's message is still pending.
    let rest = store
        .claim_due_callbacks(at(5_000), Duration::seconds(30), 10)
        .await?;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].message.transaction, second.reference);

    // An attempt for an unknown (erased) message records nothing.
    let unknown = Uuid::new_v4();
    store
        .record_attempt(&attempt(unknown, 1, 6_000, true), NextStep::Delivered)
        .await?;
    assert!(store
        .callbacks_for_transaction(a.id, first.reference)
        .await?
        .iter()
        .all(|c| c.attempts.iter().all(|at| at.outbox_id != unknown)));
    Ok(())
}

on_both!(data_survives_reopening_and_migrations_are_idempotent);
async fn data_survives_reopening_and_migrations_are_idempotent(db: TestDb) -> TestResult {
    let r = Renderer::default();
    let (a, tx) = {
        let store = db.open().await;
        store.migrate().await?;
        store.migrate().await?;
        let a = account();
        store.insert_account(&a).await?;
        let e = enrollment(a.id);
        store.insert_enrollment(&e).await?;
        let first = transaction(&e, 0);
        store
            .initiate_transaction(&first, RateLimit::OFF, &r)
            .await?;
        let tx = transaction(&e, 100);
        store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;
        if db.dialect() == Dialect::Sqlite {
            // WAL mode: committed writes sit in the write-ahead log first.
            assert!(db.sqlite_dir().join("facegate.sqlite-wal").exists());
        }
        store.close().await;
        (a, tx)
    };

    let store = db.open().await;
    store.migrate().await?;
    assert_eq!(store.account(a.id).await?, Some(a));
    assert_eq!(store.transaction(tx.reference).await?, Some(tx));
    assert_eq!(
        store
            .claim_due_callbacks(at(1_000), Duration::seconds(30), 10)
            .await?
            .len(),
        1
    );
    Ok(())
}

fn capture_attempt(tx: TransactionRef, number: u8, issued_ms: i64) -> CaptureAttempt {
    CaptureAttempt {
        id: Uuid::new_v4(),
        transaction: tx,
        number,
        nonce: [number; 16],
        challenge: Challenge::with_timeline(1_000, Vec::new(), Vec::new(), 2_000),
        flash: false,
        issued_at: at(issued_ms),
        state: AttemptState::Open,
        outcome: None,
        finished_at: None,
        model: "fr-feature-512-int8-v1".to_owned(),
        cursor: Default::default(),
        closed_at: None,
    }
}

fn finish(
    attempt: &CaptureAttempt,
    outcome: AttemptOutcome,
    images: Vec<SealedImage>,
) -> AttemptFinish {
    AttemptFinish {
        attempt: attempt.id,
        transaction: attempt.transaction,
        outcome,
        decision: Decision {
            attempt: attempt.number,
            flash: false,
            frames: FrameCounts::default(),
            liveness: LivenessRecord {
                reasons: Vec::new(),
                score: 1.0,
                signals: Vec::new(),
                verdict: LivenessVerdict::Pass,
            },
            outcome,
            similarity: None,
        },
        at: at(5_000),
        images,
    }
}

on_both!(a_capture_session_starts_its_transaction_and_replaces_the_previous_one);
async fn a_capture_session_starts_its_transaction_and_replaces_the_previous_one(
    db: TestDb,
) -> TestResult {
    let (store, _, e) = seeded(&db).await;
    let r = Renderer::default();
    let tx = transaction(&e, 100);
    store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;
    let first = CaptureSession::new([1; 32], tx.reference, at(200), tx.expires_at);
    assert!(store.open_capture_session(&first).await?);
    assert_eq!(
        store.transaction(tx.reference).await?.unwrap().state,
        TransactionState::Started
    );
    let second = CaptureSession::new([2; 32], tx.reference, at(300), tx.expires_at);
    assert!(store.open_capture_session(&second).await?);
    assert_eq!(
        store.capture_session(&[1; 32]).await?.unwrap().ended_at,
        Some(at(300))
    );
    assert_eq!(
        store.capture_session(&[2; 32]).await?.unwrap().ended_at,
        None
    );
    // A final transaction opens no session.
    store
        .finalize_transaction(tx.reference, TransactionState::Expired, at(400), &r)
        .await?;
    let third = CaptureSession::new([3; 32], tx.reference, at(500), tx.expires_at);
    assert!(!store.open_capture_session(&third).await?);
    assert_eq!(store.capture_session(&[3; 32]).await?, None);
    Ok(())
}

on_both!(finishing_the_last_attempt_stores_decision_images_and_callback_at_once);
async fn finishing_the_last_attempt_stores_decision_images_and_callback_at_once(
    db: TestDb,
) -> TestResult {
    let (store, _, e) = seeded(&db).await;
    let r = Renderer::default();
    let tx = transaction(&e, 100);
    store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;
    let first = capture_attempt(tx.reference, 1, 1_000);
    store.insert_attempt(&first).await?;
    // A second attempt abandons the first; a duplicate number is refused.
    let second = capture_attempt(tx.reference, 2, 2_000);
    store.insert_attempt(&second).await?;
    assert_eq!(
        store.attempt(first.id).await?.unwrap().state,
        AttemptState::Abandoned
    );
    assert!(matches!(
        store
            .insert_attempt(&capture_attempt(tx.reference, 2, 2_500))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.attempts_used(tx.reference).await?, 2);
    assert_eq!(
        store.attempt_by_nonce(&[2; 16]).await?.unwrap().id,
        second.id
    );

    // The abandoned attempt cannot finish; nothing is written.
    assert_eq!(
        store
            .finish_attempt(&finish(&first, AttemptOutcome::Passed, vec![]), &r)
            .await?,
        None
    );
    let images = vec![
        SealedImage {
            kind: ImageKind::Face,
            n: 1,
            sealed: vec![1, 1],
        },
        SealedImage {
            kind: ImageKind::Liveness,
            n: 1,
            sealed: vec![2],
        },
        SealedImage {
            kind: ImageKind::Liveness,
            n: 2,
            sealed: vec![3],
        },
    ];
    let done = store
        .finish_attempt(&finish(&second, AttemptOutcome::Passed, images), &r)
        .await?
        .unwrap();
    assert_eq!(done.state, TransactionState::Passed);
    assert_eq!((done.face_image, done.liveness_images), (true, 2));
    let decision = done.decision.unwrap();
    assert_eq!(decision.liveness.verdict, LivenessVerdict::Pass);
    assert_eq!(decision.outcome, AttemptOutcome::Passed);
    assert_eq!(done.facemap, None);
    assert_eq!(r.calls(), 1);
    assert_eq!(
        store.image(tx.reference, ImageKind::Face, 1).await?,
        Some(vec![1, 1])
    );
    assert_eq!(
        store.image(tx.reference, ImageKind::Liveness, 2).await?,
        Some(vec![3])
    );
    assert_eq!(
        store.image(tx.reference, ImageKind::Liveness, 3).await?,
        None
    );
    // Finishing twice does nothing.
    assert_eq!(
        store
            .finish_attempt(&finish(&second, AttemptOutcome::Failed, vec![]), &r)
            .await?,
        None
    );

    // Retention erases the images and the counts.
    assert_eq!(store.purge_images(at(5_000)).await?, 0);
    assert_eq!(store.purge_images(at(5_001)).await?, 3);
    let after = store.transaction(tx.reference).await?.unwrap();
    assert_eq!((after.face_image, after.liveness_images), (false, 0));
    assert_eq!(store.image(tx.reference, ImageKind::Face, 1).await?, None);
    Ok(())
}

on_both!(a_retry_keeps_the_transaction_open_and_deletion_erases_capture_data);
async fn a_retry_keeps_the_transaction_open_and_deletion_erases_capture_data(
    db: TestDb,
) -> TestResult {
    let (store, _, e) = seeded(&db).await;
    let r = Renderer::default();
    let tx = transaction(&e, 100);
    store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;
    let first = capture_attempt(tx.reference, 1, 1_000);
    store.insert_attempt(&first).await?;
    let open = store
        .finish_attempt(&finish(&first, AttemptOutcome::Retry, vec![]), &r)
        .await?
        .unwrap();
    assert!(!open.state.is_final());
    assert_eq!((open.decision, r.calls()), (None, 0));
    let second = capture_attempt(tx.reference, 2, 2_000);
    store.insert_attempt(&second).await?;
    let image = vec![SealedImage {
        kind: ImageKind::Face,
        n: 1,
        sealed: vec![9],
    }];
    store
        .finish_attempt(&finish(&second, AttemptOutcome::Failed, image), &r)
        .await?
        .unwrap();
    store
        .open_capture_session(&CaptureSession::new(
            [5; 32],
            tx.reference,
            at(100),
            at(900_000),
        ))
        .await?;
    assert!(store.delete_transaction(tx.reference, at(9_000)).await?);
    assert_eq!(store.transaction(tx.reference).await?, None);
    assert_eq!(store.image(tx.reference, ImageKind::Face, 1).await?, None);
    // The nonces stay burnt after deletion.
    assert_eq!(
        store.attempt_by_nonce(&[1; 16]).await?.unwrap().state,
        AttemptState::Finished
    );
    Ok(())
}

/// A facemap-shaped blob whose header names `key_id` (the rest is filler).
fn sealed_under(key_id: u32) -> Vec<u8> {
    let mut bytes = b"FGFM\x01".to_vec();
    bytes.extend_from_slice(&key_id.to_be_bytes());
    bytes.extend_from_slice(&[0; 60]);
    bytes
}

on_both!(fair_claims_take_accounts_in_turn_within_the_per_account_limit);
async fn fair_claims_take_accounts_in_turn_within_the_per_account_limit(db: TestDb) -> TestResult {
    let (store, a, e) = seeded(&db).await;
    let b = Account {
        id: AccountId::new_random(),
        ..account()
    };
    store.insert_account(&b).await?;
    let eb = enrollment(b.id);
    store.insert_enrollment(&eb).await?;
    let renderer = Renderer::default();
    // Account a's five callbacks are all older than b's two.
    for (enr, created) in [
        (&e, 0),
        (&e, 1),
        (&e, 2),
        (&e, 3),
        (&e, 4),
        (&eb, 5),
        (&eb, 6),
    ] {
        let tx = transaction(enr, created);
        store
            .initiate_transaction(&tx, RateLimit::OFF, &renderer)
            .await?;
        store
            .finalize_transaction(
                tx.reference,
                TransactionState::Expired,
                at(created),
                &renderer,
            )
            .await?;
    }
    let fairness = facegate_storage::ClaimFairness {
        per_account: 2,
        in_flight: vec![],
    };
    let claimed = store
        .claim_due_callbacks_fair(at(1_000), Duration::seconds(30), 10, &fairness)
        .await?;
    let accounts: Vec<AccountId> = claimed.iter().map(|p| p.message.account).collect();
    assert_eq!(accounts, [a.id, b.id, a.id, b.id]);
    // With two of a's in flight, only a's turns beyond the limit are left out.
    let busy = facegate_storage::ClaimFairness {
        per_account: 3,
        in_flight: vec![(a.id, 2)],
    };
    let claimed = store
        .claim_due_callbacks_fair(at(40_000), Duration::seconds(30), 10, &busy)
        .await?;
    let accounts: Vec<AccountId> = claimed.iter().map(|p| p.message.account).collect();
    assert_eq!(accounts, [a.id, b.id, b.id]);
    Ok(())
}

on_both!(key_usage_counts_what_each_key_sealed);
async fn key_usage_counts_what_each_key_sealed(db: TestDb) -> TestResult {
    let store = fresh(&db).await;
    let a = account(); // webhook secret under key 3
    store.insert_account(&a).await?;
    let mut e = enrollment(a.id);
    e.server_facemap = Some(sealed_under(3));
    store.insert_enrollment(&e).await?;
    let mut tx = transaction(&e, 0);
    tx.facemap = Some(sealed_under(3));
    store
        .initiate_transaction(&tx, RateLimit::OFF, &Renderer::default())
        .await?;
    let usage = store.key_usage(3, at(0)).await?;
    assert_eq!(
        (
            usage.webhook_secrets,
            usage.transaction_facemaps,
            usage.issued_facemaps
        ),
        (1, 1, 1)
    );
    assert!(store.key_usage(4, at(0)).await?.is_unused());
    // The customer-held copy still counts once the server's copy is erased.
    store.delete_enrollment(e.reference, at(1)).await?;
    assert_eq!(store.key_usage(3, at(1)).await?.issued_facemaps, 1);
    store.revoke_facemap(e.reference, at(2)).await?;
    assert_eq!(store.key_usage(3, at(2)).await?.issued_facemaps, 0);
    // Re-sealing replaces only the unchanged row.
    let old = sealed_under(3);
    assert!(
        !store
            .replace_transaction_facemap(tx.reference, &sealed_under(9), &sealed_under(4))
            .await?
    );
    assert!(
        store
            .replace_transaction_facemap(tx.reference, &old, &sealed_under(4))
            .await?
    );
    assert_eq!(store.key_usage(3, at(2)).await?.transaction_facemaps, 0);
    assert_eq!(store.key_usage(4, at(2)).await?.transaction_facemaps, 1);
    // A webhook move with an overlap keeps key 3 in use until it ends.
    assert!(store.move_webhook_key(a.id, 3, 4, Some(at(100))).await?);
    let usage = store.key_usage(3, at(50)).await?;
    assert_eq!((usage.webhook_secrets, usage.webhook_overlaps), (0, 1));
    assert!(store.key_usage(3, at(100)).await?.is_unused());
    assert!(!store.move_webhook_key(a.id, 3, 4, None).await?);
    Ok(())
}

fn scan(account: &Account, created_ms: i64) -> facegate_domain::Scan {
    let reference = EnrollmentRef::new_random();
    let mut token_hash = [0u8; 32];
    token_hash[..16].copy_from_slice(reference.as_uuid().as_bytes());
    facegate_domain::Scan {
        reference,
        account: account.id,
        state: facegate_domain::ScanState::Pending,
        workflow: facegate_domain::Workflow::default(),
        customer_internal_reference: Some("transaction_1234".into()),
        user_reference: Some(UserReference::from_trusted("user-42".into())),
        reporting_criteria: Some("report".into()),
        preset: Some(facegate_domain::Preset {
            country: facegate_domain::Country::parse("AUT", "c").unwrap(),
            document_type: facegate_domain::DocumentType::Passport,
        }),
        callback_url: Some(RedirectUrl::from_trusted("https://acme.example/cb".into())),
        success_url: None,
        error_url: None,
        locale: Locale::parse("hr", LocaleSet::Enrollment).unwrap(),
        token_hash,
        scan_source: ScanSource::Web,
        channel: None,
        client_ip: None,
        document_type: Some(facegate_domain::DocumentType::Passport),
        created_at: at(created_ms),
        expires_at: at(created_ms + 30 * 60_000),
        first_attempt_at: None,
        decided_at: None,
        deleted_at: None,
        outcome: None,
        evidence: None,
    }
}

fn decision(
    s: &facegate_domain::Scan,
    at_ms: i64,
    binding: Option<FacemapBinding>,
) -> facegate_storage::ScanDecision {
    use facegate_domain::{IdentityVerdict, RejectDetail, RejectReason, Rejection, ScanOutcome};
    let rejection = binding.is_none().then(|| {
        Rejection::with_details(
            RejectReason::NotReadableDocument,
            &[RejectDetail::Blurred, RejectDetail::Glare],
        )
        .unwrap()
    });
    facegate_storage::ScanDecision {
        reference: s.reference,
        at: at(at_ms),
        state: facegate_domain::ScanState::Done,
        outcome: ScanOutcome {
            status: if binding.is_some() {
                VerificationStatus::ApprovedVerified
            } else {
                VerificationStatus::ErrorNotReadableId
            },
            rejection,
            identity: binding.as_ref().map(|_| IdentityVerdict {
                similarity: Similarity::Match,
                validity: true,
                reason: None,
            }),
            mrz_checked: binding.is_some(),
        },
        evidence: Some("{\"zone\":\"READ\"}".into()),
        selfie: None,
        images: vec![SealedImage {
            kind: ImageKind::Document,
            n: 1,
            sealed: vec![5; 40],
        }],
        facemap: binding.map(|binding| facegate_storage::IssuedFacemap {
            binding,
            sealed: vec![1, 2, 3],
        }),
        callback: Some(OutboxMessage {
            id: Uuid::new_v4(),
            account: s.account,
            transaction: TransactionRef::from_uuid(s.reference.as_uuid()),
            event: "NETVERIFYID".into(),
            url: "https://acme.example/cb".into(),
            body: "callBackType=NETVERIFYID".into(),
            created_at: at(at_ms),
        }),
    }
}

on_both!(a_scan_is_decided_once_with_its_enrollment_and_deletion_leaves_the_tombstone);
async fn a_scan_is_decided_once_with_its_enrollment_and_deletion_leaves_the_tombstone(
    db: TestDb,
) -> TestResult {
    let (store, account, _) = seeded(&db).await;
    let s = scan(&account, 100);
    store.insert_scan(&s, RateLimit::OFF).await?;
    assert_eq!(store.scan(s.reference).await?, Some(s.clone()));
    // The client's address comes with the capture session; a session
    // opened from an unknown address keeps the last one known.
    let client: std::net::IpAddr = "203.0.113.7".parse()?;
    let session = |hash: u8| {
        CaptureSession::new(
            [hash; 32],
            TransactionRef::from_uuid(s.reference.as_uuid()),
            at(150),
            s.expires_at,
        )
        .for_scan()
    };
    assert!(store.open_scan_session(&session(9), Some(client)).await?);
    assert!(store.open_scan_session(&session(10), None).await?);
    assert_eq!(
        store.scan(s.reference).await?.unwrap().client_ip,
        Some(client)
    );
    assert_eq!(
        store
            .scan_by_token_hash(&s.token_hash)
            .await?
            .map(|x| x.reference),
        Some(s.reference)
    );
    let undecided = store.enrollment(s.reference).await?.unwrap();
    assert_eq!(undecided.verification_status, None);

    let side = facegate_storage::ScanSide {
        reference: s.reference,
        image: SealedImage {
            kind: ImageKind::Front,
            n: 1,
            sealed: vec![7; 32],
        },
        channel: facegate_domain::CaptureChannel::Upload,
        document_type: None,
        at: at(200),
    };
    assert!(store.store_scan_side(&side).await?);
    // Given again by camera: replaced, and the scan stays an upload.
    let again = facegate_storage::ScanSide {
        image: SealedImage {
            sealed: vec![8; 32],
            ..side.image.clone()
        },
        channel: facegate_domain::CaptureChannel::Camera,
        at: at(300),
        ..side.clone()
    };
    assert!(store.store_scan_side(&again).await?);
    assert_eq!(
        store.scan_image(s.reference, ImageKind::Front, 1).await?,
        Some(vec![8; 32])
    );
    let stored = store.scan(s.reference).await?.unwrap();
    assert_eq!(
        stored.channel,
        Some(facegate_domain::CaptureChannel::Upload)
    );
    assert_eq!(stored.first_attempt_at, Some(at(200)));

    let binding = FacemapBinding {
        serial: 1,
        model: "fr-feature-512-v1".into(),
        revoked_at: None,
    };
    assert!(
        store
            .decide_scan(&decision(&s, 400, Some(binding.clone())))
            .await?
    );
    assert!(
        !store.decide_scan(&decision(&s, 500, None)).await?,
        "decided once"
    );
    assert!(
        !store.store_scan_side(&side).await?,
        "no side after the decision"
    );
    let decided = store.scan(s.reference).await?.unwrap();
    assert_eq!(decided.state, facegate_domain::ScanState::Done);
    assert_eq!(decided.decided_at, Some(at(400)));
    assert_eq!(
        decided.outcome.as_ref().map(|o| o.status),
        Some(VerificationStatus::ApprovedVerified)
    );
    let enrollment = store.enrollment(s.reference).await?.unwrap();
    assert_eq!(enrollment.facemap, Some(binding));
    assert_eq!(enrollment.server_facemap, Some(vec![1, 2, 3]));
    assert!(enrollment.eligible_for_web_auth().is_ok());
    assert_eq!(
        store.scan_images(s.reference).await?,
        [(ImageKind::Document, 1), (ImageKind::Front, 1)]
    );
    let callbacks = store
        .callbacks_for_transaction(account.id, TransactionRef::from_uuid(s.reference.as_uuid()))
        .await?;
    assert_eq!(callbacks.len(), 1);

    assert!(store.delete_scan(s.reference, at(600)).await?);
    assert!(!store.delete_scan(s.reference, at(700)).await?);
    assert_eq!(store.scan(s.reference).await?, None);
    let pool = db.raw().await;
    let erased: Option<String> =
        sqlx::query_scalar("SELECT client_ip FROM scans WHERE reference = $1")
            .bind(s.reference.to_string())
            .fetch_one(&pool)
            .await?;
    assert_eq!(erased, None, "the client's address is personal data");
    assert!(store.scan_images(s.reference).await?.is_empty());
    assert_eq!(
        store
            .scan_image(s.reference, ImageKind::Document, 1)
            .await?,
        None
    );
    let tombstone = store.enrollment(s.reference).await?.unwrap();
    assert_eq!(tombstone.deleted_at, Some(at(600)));
    assert_eq!(tombstone.server_facemap, None);
    assert!(tombstone.eligible_for_facemap_auth().is_ok());
    assert!(store
        .callbacks_for_transaction(account.id, TransactionRef::from_uuid(s.reference.as_uuid()))
        .await?
        .is_empty());
    Ok(())
}

on_both!(a_rejection_reads_back_with_its_details_and_retention_follows_the_account);
async fn a_rejection_reads_back_with_its_details_and_retention_follows_the_account(
    db: TestDb,
) -> TestResult {
    let (store, mut account, _) = seeded(&db).await;
    account.scan_retention_days = 2;
    store.update_account(&account).await?;
    let s = scan(&account, 100);
    store.insert_scan(&s, RateLimit::OFF).await?;
    assert_eq!(
        store.overdue_scans(at(100 + 30 * 60_000 - 1), 10).await?,
        []
    );
    assert_eq!(
        store.overdue_scans(at(100 + 30 * 60_000), 10).await?,
        [s.reference]
    );
    assert!(store.decide_scan(&decision(&s, 1_000, None)).await?);
    let decided = store.scan(s.reference).await?.unwrap();
    let rejection = decided.outcome.unwrap().rejection.unwrap();
    assert_eq!(rejection.reason().code(), 200);
    assert_eq!(
        rejection
            .details()
            .iter()
            .map(|d| d.code())
            .collect::<Vec<_>>(),
        [2001, 2006]
    );
    assert_eq!(store.overdue_scans(at(100 + 30 * 60_000), 10).await?, []);
    let day = 86_400_000;
    assert_eq!(
        store
            .scans_past_retention(at(1_000 + 2 * day - 1), 10)
            .await?,
        []
    );
    assert_eq!(
        store.scans_past_retention(at(1_000 + 2 * day), 10).await?,
        [s.reference]
    );
    // A pending scan is deleted as failed, without anything to keep.
    let pending = scan(&account, 2_000);
    store.insert_scan(&pending, RateLimit::OFF).await?;
    assert!(store.delete_scan(pending.reference, at(3_000)).await?);
    let tombstone = store.enrollment(pending.reference).await?.unwrap();
    assert_eq!(
        tombstone.verification_status,
        Some(VerificationStatus::NoIdUploaded)
    );
    assert!(tombstone.eligible_for_facemap_auth().is_err());
    Ok(())
}

on_both!(frames_are_accepted_once_per_index_stored_once_and_erased_with_their_attempt);
async fn frames_are_accepted_once_per_index_stored_once_and_erased_with_their_attempt(
    db: TestDb,
) -> TestResult {
    let (store, _, e) = seeded(&db).await;
    let other = db.open().await;
    let r = Renderer::default();
    let tx = transaction(&e, 100);
    store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;
    let attempt = capture_attempt(tx.reference, 1, 1_000);
    store.insert_attempt(&attempt).await?;
    let cursor = |received, t: u32| FrameCursor {
        received,
        last_t_ms: Some(t),
        earliest_start_ms: Some(5),
    };
    // Two nodes accept frame 0 at once from the same cursor: one wins.
    let (start, first) = (FrameCursor::default(), cursor(1, 0));
    let (a, b) = tokio::join!(
        store.accept_frame(attempt.id, &start, &first, 0, at(1_100)),
        other.accept_frame(attempt.id, &start, &first, 0, at(1_100))
    );
    assert_eq!([a?, b?].iter().filter(|won| **won).count(), 1);
    assert!(
        other
            .accept_frame(attempt.id, &cursor(1, 0), &cursor(2, 66), 1, at(1_200))
            .await?
    );
    let stored = store.attempt(attempt.id).await?.unwrap();
    assert_eq!(stored.cursor, cursor(2, 66));
    assert_eq!(
        store.frame_progress(attempt.id).await?,
        FrameProgress {
            accepted: 2,
            done: 0
        }
    );
    let analysed = FrameOutcome::Analysed {
        sealed: vec![9; 3000],
    };
    assert!(store.record_frame(attempt.id, 0, &analysed).await?);
    // The first outcome stored wins.
    assert!(
        !other
            .record_frame(attempt.id, 0, &FrameOutcome::Skipped)
            .await?
    );
    assert!(
        other
            .record_frame(attempt.id, 1, &FrameOutcome::Undecodable)
            .await?
    );
    let frames = store.attempt_frames(attempt.id).await?;
    assert_eq!(
        frames
            .iter()
            .map(|f| (f.index, f.outcome.clone()))
            .collect::<Vec<_>>(),
        vec![(0, Some(analysed)), (1, Some(FrameOutcome::Undecodable))]
    );
    // Closed: no further frame, and the close's time stays.
    let closed = other.close_attempt(attempt.id, at(2_000)).await?.unwrap();
    assert_eq!(closed.closed_at, Some(at(2_000)));
    let again = store.close_attempt(attempt.id, at(3_000)).await?.unwrap();
    assert_eq!(again.closed_at, Some(at(2_000)));
    assert!(
        !store
            .accept_frame(attempt.id, &cursor(2, 66), &cursor(3, 132), 2, at(2_100))
            .await?
    );
    // Not while it is open; after its finish (stored first), yes.
    assert_eq!(store.erase_frames(attempt.id).await?, 0);
    store
        .finish_attempt(&finish(&attempt, AttemptOutcome::Retry, vec![]), &r)
        .await?;
    assert_eq!(store.attempt_frames(attempt.id).await?.len(), 2);
    assert_eq!(other.erase_frames(attempt.id).await?, 2);
    assert!(store.attempt_frames(attempt.id).await?.is_empty());
    Ok(())
}

/// Inserts `attempt` and accepts its first frame (index 0) at `ms`.
async fn started_with_a_frame(store: &SqlStore, attempt: &CaptureAttempt, ms: i64) -> TestResult {
    store.insert_attempt(attempt).await?;
    let next = FrameCursor {
        received: 1,
        last_t_ms: Some(0),
        earliest_start_ms: Some(0),
    };
    assert!(
        store
            .accept_frame(attempt.id, &FrameCursor::default(), &next, 0, at(ms))
            .await?
    );
    Ok(())
}

on_both!(a_transactions_end_erases_the_frames_of_its_open_attempt);
async fn a_transactions_end_erases_the_frames_of_its_open_attempt(db: TestDb) -> TestResult {
    let (store, _, e) = seeded(&db).await;
    let r = Renderer::default();
    let tx = transaction(&e, 100);
    store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;
    let attempt = capture_attempt(tx.reference, 1, 1_000);
    started_with_a_frame(&store, &attempt, 1_100).await?;
    let sealed = FrameOutcome::Analysed { sealed: vec![1; 8] };
    assert!(store.record_frame(attempt.id, 0, &sealed).await?);
    store
        .finalize_transaction(tx.reference, TransactionState::Expired, at(5_000), &r)
        .await?;
    assert!(store.attempt_frames(attempt.id).await?.is_empty());
    // Left open past any deadline: the retention sweep erases them.
    let tx = transaction(&e, 200);
    store.initiate_transaction(&tx, RateLimit::OFF, &r).await?;
    let left = CaptureAttempt {
        nonce: [7; 16],
        ..capture_attempt(tx.reference, 1, 6_000)
    };
    started_with_a_frame(&store, &left, 6_100).await?;
    assert_eq!(store.purge_stale_frames(at(6_000)).await?, 0);
    assert_eq!(store.purge_stale_frames(at(6_001)).await?, 1);
    assert!(store.attempt_frames(left.id).await?.is_empty());
    // An ended attempt whose frames were not erased after its finish (its
    // node stopped): the sweep erases them whatever the attempt's age.
    let ended = CaptureAttempt {
        nonce: [8; 16],
        ..capture_attempt(tx.reference, 2, 7_000)
    };
    started_with_a_frame(&store, &ended, 7_100).await?;
    store
        .finish_attempt(&finish(&ended, AttemptOutcome::Retry, vec![]), &r)
        .await?;
    assert_eq!(store.purge_stale_frames(at(0)).await?, 1);
    assert!(store.attempt_frames(ended.id).await?.is_empty());
    Ok(())
}
