//! The command line. Its shape is public: operators and scripts rely on it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser, Subcommand};
use facegate_core::accounts::AccountChanges;
use facegate_core::{DemoEnrollment, ServiceError, Services};
use facegate_domain::{AccountId, EnrollmentRef, Role, SystemClock};
use facegate_facemap::KeyId;
use tokio::net::TcpListener;

use crate::app;
use crate::config::{Config, Overrides};
use crate::output::{
    print_json, AccountJson, AccountList, CredentialJson, CredentialList, DemoEnrollmentJson,
    IssuedCredentialJson, WebhookSecretJson,
};

#[derive(Debug, Parser)]
#[command(
    name = "facegate",
    version,
    about = "Self-hosted identity verification and face authentication"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// TOML configuration file (also FACEGATE_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory holding the SQLite database (default ./facegate-data).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// The database instead of the SQLite file in the data directory:
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` or `sqlite://PATH`
    /// (also FACEGATE_DATABASE_URL, which keeps a password out of the
    /// process list).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage API credentials.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Manage the master keys that seal facemaps.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage enrollments.
    #[command(subcommand)]
    Enrollment(EnrollmentCommand),
    /// Review ID verifications by hand.
    #[command(subcommand)]
    Scan(ScanCommand),
    /// Manage the operator console's users.
    #[command(subcommand, name = "console-user")]
    ConsoleUser(ConsoleUserCommand),
    /// Evaluate the face engine on real data.
    #[command(subcommand)]
    Eval(crate::eval::EvalCommand),
}

#[derive(Debug, Args, Default)]
pub struct AccountSettings {
    /// Default callback URL (https; empty string clears it).
    #[arg(long)]
    pub callback_url: Option<String>,
    /// Default success redirect URL.
    #[arg(long)]
    pub success_url: Option<String>,
    /// Default error redirect URL.
    #[arg(long)]
    pub error_url: Option<String>,
    /// Default tokenLifetimeInMinutes (5..86400; authentication caps it at 15).
    #[arg(long)]
    pub token_lifetime: Option<i64>,
    /// Default locale.
    #[arg(long)]
    pub locale: Option<String>,
    /// Origin of the page that frames the web client (https://host[:port]):
    /// the only one its result message is posted to. Unset, any parent
    /// receives it; an empty string clears it.
    #[arg(long, value_name = "ORIGIN")]
    pub parent_origin: Option<String>,
    /// Refuse userReference values that look like e-mail addresses or phone
    /// numbers (REFERENCE_LOOKS_LIKE_PII). Off by default: keeping PII out is
    /// the customer's duty; `=false` turns the check off again.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub refuse_pii_user_reference: Option<bool>,
    /// Private networks and hosts the account's callbacks may reach (its own
    /// receivers), comma-separated or repeated: `10.1.0.0/16`, `10.1.2.3`,
    /// `fd12:3456::/48`, `receiver.corp.internal`. Replaces the list; an
    /// empty string clears it.
    #[arg(long, value_name = "NETWORKS", num_args = 1)]
    pub callback_private_networks: Option<Vec<String>>,
    /// Days a finished ID verification keeps its personal data (images,
    /// extracted data, the server's facemap) before they are erased as a
    /// DELETE erases them (1..3650; default 30).
    #[arg(long, value_name = "DAYS")]
    pub scan_retention_days: Option<i64>,
    /// Document types ID verifications accept (PASSPORT, ID_CARD,
    /// DRIVING_LICENSE), comma-separated or repeated; another type ends
    /// DENIED_UNSUPPORTED_ID_TYPE. Replaces the list; an empty string
    /// accepts every type again.
    #[arg(long, value_name = "TYPES", num_args = 1)]
    pub accepted_document_types: Option<Vec<String>>,
    /// Issuing countries ID verifications accept (ISO 3166-1 alpha-3, e.g.
    /// AUT,DEU), comma-separated or repeated; another country ends
    /// DENIED_UNSUPPORTED_ID_COUNTRY. Replaces the list; an empty string
    /// accepts every country again.
    #[arg(long, value_name = "COUNTRIES", num_args = 1)]
    pub accepted_countries: Option<Vec<String>>,
    /// Accept documents past their expiry date (refused by default, as
    /// DENIED_UNSUPPORTED_ID_TYPE); `=false` refuses them again.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub accept_expired_documents: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; prints its id and webhook signing secret.
    Create {
        #[arg(long)]
        name: String,
        /// Enable facemap authentication for the account.
        #[arg(long)]
        enable_facemap_auth: bool,
        #[command(flatten)]
        settings: AccountSettings,
        #[arg(long)]
        json: bool,
    },
    /// List accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change an account's settings.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "disable_facemap_auth")]
        enable_facemap_auth: bool,
        #[arg(long)]
        disable_facemap_auth: bool,
        #[command(flatten)]
        settings: AccountSettings,
        #[arg(long)]
        json: bool,
    },
    /// Show (or with --rotate, replace) the account's webhook signing secret.
    WebhookSecret {
        id: String,
        #[arg(long)]
        rotate: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Create a credential; the secret is printed once and stored only hashed.
    Create {
        #[arg(long)]
        account: String,
        /// What the credential may call. `all` (the default, like Jumio's
        /// main API credential): every customer API. `api`: initiating
        /// only (facemap and web initiation). `admin`: transaction
        /// administration only (retrieval, images, callback history, delete).
        #[arg(long, value_parser = ["all", "api", "admin"], default_value = "all")]
        role: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a credential at once.
    Revoke { token: String },
    /// List an account's credentials (tokens only).
    List {
        #[arg(long)]
        account: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List key ids and the primary one.
    List,
    /// Add a new primary key; older keys still open existing data. Webhook
    /// secrets move to the new key; callbacks also carry the old signature
    /// for `callbacks.signature_overlap_hours`.
    Rotate,
    /// Re-seal under the primary key what key ID sealed: open transactions'
    /// facemaps, stored images and webhook secrets. Safe to run again.
    Rewrap { id: u32 },
    /// Remove a non-primary key. Refused, listing what, while anything still
    /// needs it (run `keys rewrap ID` first).
    Retire {
        id: u32,
        /// Retire even though facemaps the key issued may still be presented
        /// by customers: they are refused from then on (FACEMAP_UNKNOWN_KEY)
        /// and their enrollments must be made again.
        #[arg(long)]
        abandon_issued_facemaps: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EnrollmentCommand {
    /// Development only: record an approved demo enrollment whose facemap
    /// holds a random template (it matches no real face), to try the API
    /// before the enrollment flow is available. Refused in production mode.
    Demo {
        #[arg(long)]
        account: String,
        /// Where to write the facemap bytes.
        #[arg(long)]
        facemap_out: PathBuf,
        /// Keep the enrollment (for `web/initiate`) instead of deleting it
        /// as facemap authentication requires.
        #[arg(long)]
        keep: bool,
        /// Make the template from the face in this JPEG or PNG (with the
        /// shipped face engine) instead of a random one that matches nobody.
        #[arg(long)]
        face_image: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke the facemap of an enrollment: it can no longer authenticate.
    RevokeFacemap {
        #[arg(long)]
        account: String,
        reference: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsoleUserCommand {
    /// A console user of one account (a reviewer of its ID verifications).
    /// The password (12 to 128 characters) is read from the first line of
    /// standard input, never from the command line.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        username: String,
        /// Also a second factor (TOTP): prints the otpauth:// URI to add
        /// to an authenticator app, once.
        #[arg(long)]
        totp: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// Approve or reject a decided ID verification, with a reason: the
    /// callback is sent again (by the running server) and the review is
    /// audited as `cli`. Rejecting makes it ERROR_NOT_READABLE_ID with
    /// 300 MANUAL_REJECTION; approving overrides an automatic rejection.
    Review {
        #[arg(long)]
        account: String,
        reference: String,
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        #[arg(long)]
        reject: bool,
        /// One line, 1 to 500 characters.
        #[arg(long)]
        reason: String,
    },
    /// The audit trail of an ID verification's reviews, as JSON lines.
    Audit {
        #[arg(long)]
        account: String,
        reference: String,
    },
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen } => *listen,
        _ => None,
    };
    let overrides = Overrides {
        listen,
        data_dir: cli.global.data_dir.clone(),
        database_url: cli.global.database_url.clone(),
    };
    let config = Config::load(cli.global.config.as_deref(), &overrides)?;
    match cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::Migrate => {
            config.validate()?;
            app::open_store(&config).await?;
            println!("migrations applied to {}", config.database()?);
            Ok(())
        }
        Command::Account(cmd) => account(&config, cmd).await,
        Command::Eval(cmd) => crate::eval::run(cmd),
        Command::Credentials(cmd) => credentials(&config, cmd).await,
        Command::Keys(cmd) => keys(&config, cmd).await,
        Command::Enrollment(EnrollmentCommand::Demo {
            account,
            facemap_out,
            keep,
            face_image,
            json,
        }) => {
            let demo = Demo {
                facemap_out,
                keep,
                face_image,
                json,
            };
            demo_enrollment(&config, &account, &demo).await
        }
        Command::Scan(cmd) => scan(&config, cmd).await,
        Command::ConsoleUser(ConsoleUserCommand::Create {
            account,
            username,
            totp,
            json,
        }) => {
            let services = cli_services(&config).await?;
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let (user, uri) = services
                .create_console_user(parse_account(&account)?, &username, password, totp)
                .await
                .map_err(friendly)?;
            if json {
                let out = serde_json::json!({
                    "id": user.id.to_string(),
                    "account": user.account.to_string(),
                    "username": user.username,
                    "totpUri": uri,
                });
                println!("{out}");
            } else {
                println!("console user {} created", user.username);
                if let Some(uri) = uri {
                    println!("add this to an authenticator app (shown once): {uri}");
                }
            }
            Ok(())
        }
        Command::Enrollment(EnrollmentCommand::RevokeFacemap { account, reference }) => {
            let services = cli_services(&config).await?;
            let reference: EnrollmentRef = reference
                .parse()
                .map_err(|_| anyhow!("not an enrollment reference"))?;
            let revoked = services
                .revoke_facemap(parse_account(&account)?, reference)
                .await
                .map_err(friendly)?;
            println!(
                "{}",
                if revoked {
                    "revoked"
                } else {
                    "already revoked"
                }
            );
            Ok(())
        }
    }
}

async fn scan(config: &Config, cmd: ScanCommand) -> anyhow::Result<()> {
    let services = cli_services(config).await?;
    let parse = |raw: &str| -> anyhow::Result<EnrollmentRef> {
        raw.parse()
            .map_err(|_| anyhow!("not an ID verification reference"))
    };
    let print = |entry: &facegate_domain::AuditEntry| {
        let line = serde_json::json!({
            "at": entry.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "actor": entry.actor,
            "action": entry.action,
            "before": entry.before,
            "after": entry.after,
            "reason": entry.reason,
        });
        println!("{line}");
    };
    match cmd {
        ScanCommand::Review {
            account,
            reference,
            approve,
            reject: _,
            reason,
        } => {
            let request = facegate_core::reviews::ReviewRequest {
                decision: Some(if approve { "APPROVE" } else { "REJECT" }.to_owned()),
                reason: Some(reason),
            };
            let reviewed = services
                .review_account_scan(
                    parse_account(&account)?,
                    &facegate_core::reviews::Reviewer::CommandLine,
                    parse(&reference)?,
                    &request,
                )
                .await
                .map_err(friendly)?;
            reviewed.audit.iter().for_each(print);
        }
        ScanCommand::Audit { account, reference } => {
            let account = parse_account(&account)?;
            let reference = parse(&reference)?;
            let trail = services
                .account_scan_audit(account, reference)
                .await
                .map_err(friendly)?;
            trail.iter().for_each(print);
        }
    }
    Ok(())
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FACEGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let _ = if config.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn serve(config: Config) -> anyhow::Result<()> {
    init_logging(&config);
    config.validate()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let running = app::start(&config, listener, app::Hooks::default()).await?;
    running.run_until(shutdown_signal()?).await;
    Ok(())
}

/// Ctrl-C or SIGTERM (what `docker stop`, systemd and Kubernetes send).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

async fn cli_services(config: &Config) -> anyhow::Result<Arc<Services>> {
    config.validate()?;
    app::services(
        config,
        Arc::new(SystemClock),
        config.base_url(config.listen),
    )
    .await
}

fn parse_account(id: &str) -> anyhow::Result<AccountId> {
    id.parse()
        .map_err(|_| anyhow!("{id:?} is not an account id (a 36-character UUID)"))
}

/// Validation errors name each field; other errors keep their message.
fn friendly(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::Validation(errors) => anyhow!(errors
            .iter()
            .map(|f| format!("{}: {} ({})", f.field, f.detail, f.code))
            .collect::<Vec<_>>()
            .join("; ")),
        other => anyhow!(other),
    }
}

fn changes(settings: AccountSettings) -> AccountChanges {
    AccountChanges {
        callback_url: settings.callback_url,
        success_url: settings.success_url,
        error_url: settings.error_url,
        default_token_lifetime_minutes: settings.token_lifetime,
        default_locale: settings.locale,
        parent_origin: settings.parent_origin,
        refuse_pii_user_reference: settings.refuse_pii_user_reference,
        // Repeated flags and commas make one list; the domain parses it.
        callback_private_networks: settings
            .callback_private_networks
            .map(|values| values.join(",")),
        scan_retention_days: settings.scan_retention_days,
        accepted_document_types: settings.accepted_document_types.map(|v| v.join(",")),
        accepted_countries: settings.accepted_countries.map(|v| v.join(",")),
        accept_expired_documents: settings.accept_expired_documents,
        ..AccountChanges::default()
    }
}

async fn account(config: &Config, cmd: AccountCommand) -> anyhow::Result<()> {
    let services = cli_services(config).await?;
    match cmd {
        AccountCommand::Create {
            name,
            enable_facemap_auth,
            settings,
            json,
        } => {
            let changes = AccountChanges {
                facemap_auth_enabled: Some(enable_facemap_auth),
                ..changes(settings)
            };
            let account = services
                .create_account(&name, changes)
                .await
                .map_err(friendly)?;
            let secret = services
                .webhook_secret(&account)
                .map_err(friendly)?
                .to_whsec_string();
            if json {
                print_json(&AccountJson {
                    webhook_secret: Some(secret.to_string()),
                    ..AccountJson::from(&account)
                });
            } else {
                println!("account {}\nwebhook signing secret {secret}", account.id);
            }
        }
        AccountCommand::List { json } => {
            let accounts = services.list_accounts().await.map_err(friendly)?;
            if json {
                print_json(&AccountList {
                    accounts: accounts.iter().map(AccountJson::from).collect(),
                });
            } else {
                for a in accounts {
                    println!(
                        "{}  {}  facemap-auth={}",
                        a.id, a.name, a.facemap_auth_enabled
                    );
                }
            }
        }
        AccountCommand::Update {
            id,
            name,
            enable_facemap_auth,
            disable_facemap_auth,
            settings,
            json,
        } => {
            let enabled = match (enable_facemap_auth, disable_facemap_auth) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            let changes = AccountChanges {
                name,
                facemap_auth_enabled: enabled,
                ..changes(settings)
            };
            let account = services
                .update_account(parse_account(&id)?, changes)
                .await
                .map_err(friendly)?;
            if json {
                print_json(&AccountJson::from(&account));
            } else {
                println!("account {} updated", account.id);
            }
        }
        AccountCommand::WebhookSecret { id, rotate, json } => {
            let id = parse_account(&id)?;
            let secret = if rotate {
                services.rotate_webhook_secret(id).await
            } else {
                services
                    .account(id)
                    .await
                    .and_then(|a| services.webhook_secret(&a))
            }
            .map_err(friendly)?
            .to_whsec_string();
            if json {
                print_json(&WebhookSecretJson {
                    id: id.to_string(),
                    webhook_secret: secret.to_string(),
                });
            } else {
                println!("{secret}");
            }
        }
    }
    Ok(())
}

/// What a role may call, in the words of the API's endpoints.
fn role_scope(role: Role) -> &'static str {
    match role {
        Role::All => "every customer API: initiate, retrieval, images, callback history, delete",
        Role::Api => "initiate only",
        Role::Admin => "retrieval, images, callback history and delete only",
    }
}

async fn credentials(config: &Config, cmd: CredentialsCommand) -> anyhow::Result<()> {
    let services = cli_services(config).await?;
    match cmd {
        CredentialsCommand::Create {
            account,
            role,
            json,
        } => {
            let role =
                Role::parse(&role).ok_or_else(|| anyhow!("role must be all, api or admin"))?;
            let issued = services
                .issue_credential(parse_account(&account)?, role)
                .await
                .map_err(friendly)?;
            if json {
                print_json(&IssuedCredentialJson::from(&issued));
            } else {
                println!(
                    "token  {}\nsecret {}\nrole   {} ({})\nThe secret is shown only now.",
                    issued.token,
                    issued.secret,
                    role.as_str(),
                    role_scope(role)
                );
            }
        }
        CredentialsCommand::Revoke { token } => {
            if !services.revoke_credential(&token).await.map_err(friendly)? {
                bail!("no active credential has this token");
            }
            println!("revoked");
        }
        CredentialsCommand::List { account, json } => {
            let list = services
                .list_credentials(parse_account(&account)?)
                .await
                .map_err(friendly)?;
            if json {
                print_json(&CredentialList {
                    credentials: list.iter().map(CredentialJson::from).collect(),
                });
            } else {
                for c in list {
                    println!(
                        "{}  {}  {}",
                        c.token,
                        c.role.as_str(),
                        if c.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        }
                    );
                }
            }
        }
    }
    Ok(())
}

async fn keys(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let from_env = config.master_keys_env().is_some();
    match cmd {
        KeysCommand::List => {
            let keyring = app::load_keyring(config)?;
            for id in keyring.key_ids() {
                let primary = if id == keyring.primary() {
                    "  (primary)"
                } else {
                    ""
                };
                println!("{id}{primary}");
            }
            Ok(())
        }
        KeysCommand::Rewrap { id } => {
            let services = cli_services(config).await?;
            let report = services
                .rewrap_key(KeyId(id), config.signature_overlap())
                .await
                .map_err(friendly)?;
            println!(
                "key {id}: {} webhook secrets, {} transaction facemaps and {} images re-sealed under key {}; {} changed meanwhile and were left",
                report.webhook_secrets,
                report.transaction_facemaps,
                report.images,
                services.primary_key(),
                report.skipped
            );
            Ok(())
        }
        KeysCommand::Rotate | KeysCommand::Retire { .. } if from_env => {
            bail!("the master keys come from FACEGATE_MASTER_KEYS; rotate them where that variable is managed")
        }
        KeysCommand::Rotate => {
            let mut keyring = app::load_keyring(config)?;
            let old = keyring.primary();
            let id = keyring.rotate()?;
            app::write_keyring(&config.key_file(), &keyring)?;
            let services = cli_services(config).await?;
            let moved = services
                .move_webhook_secrets(None, config.signature_overlap())
                .await
                .map_err(friendly)?;
            println!(
                "key {id} is now primary; restart the servers to use it, then run `facegate keys rewrap {old}`.\n\
                 {moved} webhook secrets moved to key {id}: callbacks carry the old signature too for {} hours; \
                 give receivers the new secret (`facegate account webhook-secret ID`)",
                config.callbacks.signature_overlap_hours
            );
            Ok(())
        }
        KeysCommand::Retire {
            id,
            abandon_issued_facemaps,
        } => {
            let mut keyring = app::load_keyring(config)?;
            if id == keyring.primary().0 || !keyring.contains(KeyId(id)) {
                // The keyring's own refusal names the reason.
                keyring.retire(KeyId(id))?;
            }
            let services = cli_services(config).await?;
            let usage = services.key_usage(KeyId(id)).await.map_err(friendly)?;
            let blocking = usage_lines(id, &usage, abandon_issued_facemaps);
            if !blocking.is_empty() {
                bail!("key {id} is still in use:\n  {}", blocking.join("\n  "));
            }
            keyring.retire(KeyId(id))?;
            app::write_keyring(&config.key_file(), &keyring)?;
            println!("key {id} retired; data sealed with it is refused from now on");
            Ok(())
        }
    }
}

/// What keeps key `id` from being retired, one line per kind with what to do.
fn usage_lines(
    id: u32,
    usage: &facegate_storage::KeyUsage,
    abandon_issued_facemaps: bool,
) -> Vec<String> {
    let rewrap = format!("run `facegate keys rewrap {id}`");
    let mut lines = Vec::new();
    let mut add = |n: u64, what: &str, fix: &str| {
        if n > 0 {
            lines.push(format!("{n} {what} ({fix})"));
        }
    };
    add(usage.webhook_secrets, "account webhook secrets", &rewrap);
    add(
        usage.webhook_overlaps,
        "account webhook secrets still co-signing during a rotation overlap",
        "wait for callbacks.signature_overlap_hours to pass",
    );
    add(
        usage.transaction_facemaps,
        "open transactions' facemaps",
        &rewrap,
    );
    add(usage.images, "stored images", &rewrap);
    if !abandon_issued_facemaps {
        let fix = "customers may still present them: revoke them (`facegate enrollment revoke-facemap`) or pass --abandon-issued-facemaps";
        add(usage.issued_facemaps, "issued facemaps", fix);
        add(
            usage.issued_facemaps_unknown_key,
            "issued facemaps whose key was not recorded",
            fix,
        );
    }
    lines
}

struct Demo {
    facemap_out: PathBuf,
    keep: bool,
    face_image: Option<PathBuf>,
    json: bool,
}

/// The template of the face in `path`, with the shipped embedder.
fn face_template(path: &std::path::Path) -> anyhow::Result<(String, Vec<f32>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    facegate_engine::enrollment_template(&bytes)
        .with_context(|| format!("making a template of {}", path.display()))
}

async fn demo_enrollment(config: &Config, account: &str, demo: &Demo) -> anyhow::Result<()> {
    let Demo {
        facemap_out,
        keep,
        face_image,
        json,
    } = demo;
    let (keep, json) = (*keep, *json);
    if config.mode != crate::config::Mode::Development {
        bail!("demo enrollments exist only in development mode");
    }
    let services = cli_services(config).await?;
    let account = services
        .account(parse_account(account)?)
        .await
        .map_err(friendly)?;
    let (model, template) = match face_image {
        Some(path) => face_template(path)?,
        None => (
            config
                .supported_models
                .first()
                .ok_or_else(|| anyhow!("no supported model configured"))?
                .clone(),
            random_unit_template(512),
        ),
    };
    if !config.supported_models.contains(&model) {
        bail!("the face engine's model {model} is not in supported_models");
    }
    let DemoEnrollment { reference, facemap } = services
        .record_demo_enrollment(&account, &model, vec![template], keep)
        .await
        .map_err(friendly)?;
    std::fs::write(facemap_out, &facemap)
        .with_context(|| format!("writing {}", facemap_out.display()))?;
    if json {
        print_json(&DemoEnrollmentJson {
            enrollment_transaction_reference: reference.to_string(),
            deleted: !keep,
        });
    } else {
        println!(
            "enrollment {reference} (facemap written to {})",
            facemap_out.display()
        );
    }
    Ok(())
}

/// A random direction in template space: a stand-in face template that no
/// real face will match, used only by demo enrollments.
fn random_unit_template(dimension: usize) -> Vec<f32> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let raw: Vec<f32> = (0..dimension).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    raw.into_iter().map(|x| x / norm).collect()
}
