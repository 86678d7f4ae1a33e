//! The registry of targets and the descriptor each of them implements.
//!
//! A target is one module that owns everything about itself: its name and vendor CLI, its
//! routing settings, its name and value rules, the commands it runs and how it reads their
//! errors, whether it writes per key or in bulk, how it reads values back (`Reads`) and what
//! it may call its own and delete (`Scope`, `Deletes`). The command line, the config file,
//! pre-flight, the dry-run plan and the push engine ask these descriptors and name no
//! target. A new target is one new module plus one line in [`REGISTRY`].
//!
//! Everything here is pure: running the commands is `exec`/`pool`'s job.

pub mod aws;
pub mod azure;
pub mod gcp;
pub mod gh;
pub mod ssm;
pub mod vault;

use crate::task::SecretTask;
use std::borrow::Cow;
use std::time::Duration;

/// Every target, in the order usage and errors list them.
pub const REGISTRY: &[&Backend] = &[
    &gh::BACKEND,
    &gcp::BACKEND,
    &aws::BACKEND,
    &azure::BACKEND,
    &vault::BACKEND,
    &ssm::BACKEND,
];

/// The target named on the command line.
pub fn find(name: &str) -> Option<&'static Backend> {
    REGISTRY.iter().copied().find(|k| k.name == name)
}

/// The target a routing flag (without `--`) belongs to.
pub fn owning_flag(flag: &str) -> Option<&'static Backend> {
    routing_flag(flag).map(|(backend, _)| backend)
}

/// The target and setting of a routing flag (without `--`).
pub fn routing_flag(flag: &str) -> Option<(&'static Backend, &'static Setting)> {
    REGISTRY.iter().copied().find_map(|backend| {
        backend
            .settings
            .iter()
            .find(|s| s.flag == flag)
            .map(|s| (backend, s))
    })
}

/// The target names as a list for messages: `gh, gcp, …, vault or ssm`.
pub fn names_for_humans() -> String {
    let names: Vec<&str> = REGISTRY.iter().map(|k| k.name).collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// What a target is before its routing is known.
pub struct Backend {
    /// Named on the command line; also the `sync.<name>` block of the config file.
    pub name: &'static str,
    /// What it is, for `--help`'s list of targets.
    pub title: &'static str,
    /// The routing flags of `--help`'s example (`vsync sync dev <name> <example>`).
    pub example: &'static str,
    /// The vendor CLI that must be on PATH.
    pub bin: &'static str,
    /// Routing settings, in the order they are resolved and prompted for.
    pub settings: &'static [Setting],
    /// What a value must be.
    pub values: &'static ValueRules,
    /// Whether the service compares secret names ignoring case (`api_key` is `API_KEY`).
    pub case_insensitive_names: bool,
    /// The target for resolved settings (every required one present), the env and repo.
    pub open: fn(&Settings, &Open<'_>) -> Box<dyn Target>,
}

impl Backend {
    /// What two keys must agree on to be one secret on this target; `compare_names` orders
    /// by it without building it.
    #[cfg(test)]
    pub fn name_identity<'k>(&self, key: &'k str) -> Cow<'k, str> {
        if self.case_insensitive_names {
            Cow::Owned(key.to_uppercase())
        } else {
            Cow::Borrowed(key)
        }
    }

    /// Orders names as this target tells them apart (`Equal`: one secret), upper-casing char
    /// by char where case does not count: sorting 10,000 keys must not copy them all.
    pub fn compare_names(&self, a: &str, b: &str) -> std::cmp::Ordering {
        if self.case_insensitive_names {
            let (a, b) = (a.chars(), b.chars());
            a.flat_map(char::to_uppercase)
                .cmp(b.flat_map(char::to_uppercase))
        } else {
            a.cmp(b)
        }
    }

    /// The largest value, in bytes, any routing of this target stores (a referenced file is
    /// read up to it before routing is known); `Target::value_limit` is the resolved one.
    pub fn value_limit(&self) -> usize {
        self.values.max_bytes
    }
}

impl PartialEq for Backend {
    fn eq(&self, other: &Backend) -> bool {
        self.name == other.name
    }
}
impl Eq for Backend {}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// One routing setting: which flag sets it, where it is saved, how to ask for it.
#[derive(Debug, PartialEq, Eq)]
pub struct Setting {
    /// Key inside `sync.<target>` of the config file.
    pub config_key: &'static str,
    /// Flag name without the leading `--`; unique across all targets.
    pub flag: &'static str,
    /// TTY prompt text.
    pub prompt: &'static str,
    pub required: bool,
    /// The value's placeholder in `--help` (`OWNER/NAME`).
    pub value: &'static str,
    /// An optional setting's lines in `--help`: `(value, what it does)`, one per value shown.
    pub help: &'static [(&'static str, &'static str)],
}

/// The resolved values of one target's settings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settings(Vec<(&'static str, String)>);

impl Settings {
    pub fn set(&mut self, setting: &Setting, value: String) {
        self.0.retain(|(flag, _)| *flag != setting.flag);
        self.0.push((setting.flag, value));
    }

    pub fn get(&self, setting: &Setting) -> Option<&str> {
        self.0
            .iter()
            .find(|(flag, _)| *flag == setting.flag)
            .map(|(_, v)| v.as_str())
    }

    /// A required setting; routing resolution guarantees it is present.
    pub fn required(&self, setting: &Setting) -> String {
        self.get(setting).unwrap_or_default().to_string()
    }
}

/// `prefix` + `key`: the name under which aws and ssm store a key.
pub fn prefixed<'k>(prefix: Option<&str>, key: &'k str) -> Cow<'k, str> {
    match prefix {
        Some(p) => Cow::Owned(format!("{p}{key}")),
        None => Cow::Borrowed(key),
    }
}

/// Where a target's secrets go: the service, and the routing that picks the place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// `AWS Secrets Manager`.
    pub service: &'static str,
    /// `(name, value)` in the order shown: `region=…, prefix=…`.
    pub fields: Vec<(&'static str, String)>,
}

impl Location {
    /// An AWS service's: its region, and the prefix when there is one.
    pub fn regional(service: &'static str, region: &str, prefix: Option<&str>) -> Location {
        Location {
            service,
            fields: vec![("region", region.to_string())],
        }
        .with(&[("prefix", prefix)])
    }

    /// Adds `name=value` for each detail that is set (a routing's optional settings), so
    /// that a location without them reads as it did.
    pub fn with(mut self, details: &[(&'static str, Option<&str>)]) -> Location {
        for (name, value) in details {
            if let Some(value) = value {
                self.fields.push((name, value.to_string()));
            }
        }
        self
    }

    /// `region=eu-west-1, prefix=api/`: the banner after its `:`, and `--json`'s `scope`.
    pub fn fields_text(&self) -> String {
        let shown: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        shown.join(", ")
    }
}

/// What a target is opened for besides its settings.
#[derive(Debug, Clone, Copy)]
pub struct Open<'a> {
    /// The env name as typed (gh's environment).
    pub env: &'a str,
    /// The config namespace (`repo::layout`'s name).
    pub repo: &'a str,
    /// The `vsync-repo` mark value that tells this repository apart from others (already
    /// spelt as a label, `repo::Identity::mark`); `None` when nothing but a folder name
    /// identifies the repository, and then `--prune` by labels or tags is refused.
    pub owner: Option<&'a str>,
}

impl Open<'_> {
    /// The `vsync-repo` value written on what vsync creates: the owner identity, else (only
    /// a folder name is known) the config namespace, as earlier versions wrote it.
    pub fn repo_mark(&self) -> String {
        self.owner
            .map_or_else(|| owner_label(self.repo), str::to_string)
    }

    /// The `vsync-env` value.
    pub fn env_mark(&self) -> String {
        owner_label(self.env)
    }
}

/// The marks vsync sets on what it creates (gcp labels, aws and azure tags): name and value.
pub fn marks(repo: &str, env: &str) -> [(&'static str, String); 3] {
    [
        (MANAGED_BY, "vsync".to_string()),
        (REPO_MARK, repo.to_string()),
        (ENV_MARK, env.to_string()),
    ]
}

pub const MANAGED_BY: &str = "managed-by";
pub const REPO_MARK: &str = "vsync-repo";
pub const ENV_MARK: &str = "vsync-env";

/// Why `--prune` by marks is refused when only a folder name identifies the repository.
pub fn unknown_owner(target: &str) -> String {
    format!(
        "{target}: --prune needs to know which repository owns the secrets, and only the \
         checkout folder's name identifies this one (two repositories checked out as the same \
         folder would prune each other's secrets): pass --repo=NAME (or set SECRETS_SYNC_REPO), \
         or give the repository a git remote `origin`"
    )
}

/// Whether the rest of a name after the target's prefix is a key an env file could define
/// there: not empty and no `/` (a deeper path is another prefix's, not this one's).
pub fn could_be_key(rest: &str) -> bool {
    !rest.is_empty() && !rest.contains('/')
}

/// A target with its routing resolved: what pre-flight, the plan and the push engine use.
pub trait Target: Sync {
    fn backend(&self) -> &'static Backend;

    /// Where the secrets go.
    fn location(&self) -> Location;

    /// The `Syncing N secrets to …` line.
    fn banner(&self, n: usize) -> String {
        let place = self.location();
        format!(
            "Syncing {n} secrets to {}: {}",
            place.service,
            place.fields_text()
        )
    }

    /// The name a key is stored under (aws and ssm add their prefix; azure may map `_`).
    fn secret_name<'k>(&self, key: &'k str) -> Cow<'k, str> {
        Cow::Borrowed(key)
    }

    /// Why a resolved routing value cannot be used (not one of the allowed values); `None`
    /// when fine. Pre-flight reports it first, so nothing is saved or pushed.
    fn setting_problem(&self) -> Option<String> {
        None
    }

    /// Why the target refuses a secret name (as `secret_name` spells it); `None` when fine.
    fn name_problem(&self, name: &str) -> Option<String>;

    /// The largest value, in bytes, this routing stores (ssm's tier raises it).
    fn value_limit(&self) -> usize {
        self.backend().values.max_bytes
    }

    /// What lifts the value limit, for pre-flight's error; `None` when nothing does.
    fn value_limit_hint(&self) -> Option<String> {
        None
    }

    /// A check of a setting that vsync applies only when it creates a secret, against the
    /// secrets that exist (aws's KMS key): `--diff` reports what differs.
    fn drift(&self) -> Option<&dyn Drift> {
        None
    }

    /// How the target writes.
    fn writes(&self) -> Writes<'_>;

    /// How the target reads values back; `None` when it cannot (gh).
    fn reads(&self) -> Option<&dyn Reads> {
        None
    }

    /// Why the target refuses to take `n` secrets at once; `None` when fine. Pre-flight
    /// reports it before any write.
    fn count_problem(&self, _n: usize) -> Option<String> {
        None
    }

    /// How the target slows down when its store throttles.
    fn pacing(&self) -> Pacing {
        BACKOFF_PACING
    }

    /// What vsync may call its own on this target, for `--diff`'s `-` lines and `--prune`.
    fn scope(&self) -> Scope<'_> {
        Scope::Unknown("this target has no scope vsync can prove is its own".into())
    }
}

/// One call that reads current values: the command and the secret names it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadCall {
    pub cmd: VendorCmd,
    pub names: Vec<String>,
}

/// What a successful read call returned. Names of the call found in neither list do not
/// exist. Values are secrets: held only to compare, never printed.
#[derive(Default)]
pub struct ReadBack {
    /// Secret name and stored value; may include names the call was not asked about (a
    /// whole vault document, everything under an ssm path).
    pub values: Vec<(String, Vec<u8>)>,
    /// Names the identity may not read.
    pub denied: Vec<String>,
    /// Names that differ whatever their value: it cannot be compared (a binary AWS secret),
    /// or it is stored in a form a write changes (an ssm `String` parameter). A name may be
    /// in `values` too, so that its value is scrubbed from output.
    pub unreadable: Vec<String>,
}

/// Why a read call failed, as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFailure {
    /// Nothing there: every name of the call is new.
    NotFound,
    /// The identity may not read values.
    Denied,
    Transient,
    Other,
}

/// A target that can read stored values back, to compare them with the env file.
pub trait Reads: Sync {
    /// The calls that read `names` (secret names as `secret_name` spells them).
    fn read_calls(&self, names: &[&str]) -> Vec<ReadCall>;
    /// The values in a successful call's stdout.
    fn parse_read(&self, call: &ReadCall, stdout: &[u8]) -> Result<ReadBack, String>;
    fn read_failure(&self, stderr: &str) -> ReadFailure;
    /// The permission a read needs, named in `--diff`'s error.
    fn read_permission(&self) -> &'static str;
    /// A value as the target stores it (the CLIs that read text turn `\r\n` into `\n`).
    fn as_stored<'v>(&self, value: &'v [u8]) -> Cow<'v, [u8]> {
        Cow::Borrowed(value)
    }
}

/// `\r\n` and a lone `\r` become `\n`: Python's universal newlines (aws, az).
pub fn universal_newlines(value: &[u8]) -> Cow<'_, [u8]> {
    if !value.contains(&b'\r') {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'\r' {
            out.push(b'\n');
            if value.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
        } else {
            out.push(value[i]);
        }
        i += 1;
    }
    Cow::Owned(out)
}

/// The longest GCP label value.
const LABEL_MAX: usize = 63;

/// A label or tag value naming the repo or env that owns a secret: GCP label values allow
/// only lowercase `[a-z0-9_-]`, at most 63 characters, so everything else becomes `_`. A name
/// too long for that keeps its first 50 characters and gains `-` and 12 hex digits of a hash
/// of the whole name, so two long names that share a beginning stay two owners. Azure and aws
/// use the same spelling, which also keeps it safe inside a JMESPath string.
pub fn owner_label(name: &str) -> String {
    let mapped = label_chars(name);
    if mapped.len() <= LABEL_MAX {
        mapped
    } else {
        hashed_label(&mapped, name)
    }
}

/// `name` in label characters, always ending in a hash of `whole`: for identities whose
/// mapping to label characters loses information (`a.b/c` and `a_b/c`).
pub fn hashed_label(mapped: &str, whole: &str) -> String {
    let head: String = label_chars(mapped).chars().take(LABEL_MAX - 13).collect();
    format!("{head}-{:012x}", fnv1a(whole.as_bytes()) & 0xffff_ffff_ffff)
}

fn label_chars(name: &str) -> String {
    name.chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a, 64 bits: a fixed function, so that a label written today matches tomorrow's.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Which secrets outside the env file vsync may call its own.
pub enum Scope<'a> {
    /// Listed by a call, deleted by others.
    Listed(&'a dyn Deletes),
    /// The document the write replaces (vault): what the read found beyond the env file.
    Document,
    /// Nothing can be proven vsync's: why (`--prune` is refused with it).
    Unknown(String),
}

/// A target that can list what is vsync's and delete it.
pub trait Deletes: Sync {
    /// The call listing the names in scope (as `secret_name` spells them).
    fn scope_cmd(&self) -> VendorCmd;
    fn parse_scope(&self, stdout: &str) -> Vec<String>;
    /// The calls deleting `names`: one per `delete_batch` names, in order.
    fn delete_cmds(&self, names: &[&str]) -> Vec<VendorCmd>;
    fn delete_batch(&self) -> usize {
        1
    }
    /// What a delete means here, for the prompt, the README and the run's output.
    fn delete_means(&self) -> &'static str;
    /// The key a name in scope stands for (the name without the target's prefix).
    fn key_of<'n>(&self, name: &'n str) -> &'n str {
        name
    }
    /// From the same listing, the names that would be in scope but lack this run's marks:
    /// never deleted, only counted (`--prune` says how many it left alone).
    fn parse_unmarked_scope(&self, _stdout: &str) -> Vec<String> {
        Vec::new()
    }
}

/// One call that lists how existing secrets stand on a create-only setting.
pub trait Drift: Sync {
    fn drift_cmd(&self) -> VendorCmd;
    /// One note per name of `names` (as `secret_name` spells them) that exists with another
    /// setting than the routing's: what it has and how to change it.
    fn parse_drift(&self, stdout: &str, names: &[&str]) -> Result<Vec<String>, String>;
}

/// What a value must be, and what the vendor CLI changes on the way.
#[derive(Debug)]
pub struct ValueRules {
    /// The largest value any routing stores; `Target::value_limit` may narrow it.
    pub max_bytes: usize,
    pub empty_ok: bool,
    /// The CLI carries text: the value must be UTF-8.
    pub utf8: bool,
    /// Values the CLI stores differently from the env file: which, and a warning's words.
    pub altered: Option<Alteration>,
}

#[derive(Debug)]
pub struct Alteration {
    pub applies: fn(&[u8]) -> bool,
    /// Completes "… : KEY, KEY" in a warning.
    pub how: &'static str,
}

/// The CLIs that read their input as text turn `\r\n` into `\n`.
pub const CRLF_TRANSLATED: Alteration = Alteration {
    applies: |v| v.contains(&b'\r'),
    how: "the vendor CLI reads values as text and turns \\r\\n into \\n in",
};

/// Per key through a worker pool, or everything in one write.
pub enum Writes<'a> {
    PerKey(&'a dyn PerKey),
    Bulk(&'a dyn Bulk),
}

/// A vendor CLI invocation. Values never appear here: they go on the child's stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorCmd {
    pub program: &'static str,
    pub args: Vec<String>,
    /// Extra environment for the child (vault's `VAULT_ADDR`).
    pub env: Vec<(&'static str, String)>,
    /// Environment for the child only where the user has set none of these names (vsync's
    /// choice of the CLI's retry settings); not part of the command as displayed.
    pub env_defaults: &'static [(&'static str, &'static str)],
}

impl VendorCmd {
    pub fn new(program: &'static str, args: &[&str]) -> VendorCmd {
        VendorCmd {
            program,
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            env_defaults: &[],
        }
    }

    /// The environment `env_defaults` adds, given what is set in vsync's own (`is_set`): all
    /// of it, or nothing when the user has set any of its names.
    pub fn defaults_to_set(
        &self,
        is_set: impl Fn(&str) -> bool,
    ) -> &'static [(&'static str, &'static str)] {
        if self.env_defaults.iter().any(|(k, _)| is_set(k)) {
            &[]
        } else {
            self.env_defaults
        }
    }

    /// `program` plus the leading words that name the operation, for WARNING lines
    /// (`gcloud secrets versions add`); stops at the first secret name or flag.
    pub fn label(&self, words: usize) -> String {
        std::iter::once(self.program)
            .chain(self.args.iter().take(words).map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The command line as a shell user would type it (dry run, docs). Args are plain
    /// words here; anything unusual is single-quoted.
    pub fn display(&self) -> String {
        let mut out: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        out.push(self.program.to_string());
        out.extend(self.args.iter().map(|a| quote(a)));
        out.join(" ")
    }
}

fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:@%+,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Which write a per-key push performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// gh and azure: one idempotent command.
    Set,
    /// gcp/aws: add a version to an existing secret.
    Update,
    /// gcp/aws: create the secret with its first value.
    Create,
}

/// What a failed vendor call means for the next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The secret does not exist: switch from Update to Create.
    NotFound,
    /// The secret exists already: switch from Create to Update.
    AlreadyExists,
    /// The store asks every caller to slow down: news about the store, not the key. The
    /// whole target pauses and lowers its concurrency; the call is retried until it lands or
    /// the run's deadline comes.
    Throttled,
    /// A 5xx or network trouble: worth a few more attempts.
    Transient,
    /// The name belongs to a deleted secret that can still be recovered (a pruned key added
    /// back): the target's `Recovers` decides whether vsync may bring it back.
    Deleted,
    /// The secret is still being recovered: the write is tried again until it is live.
    Recovering,
    /// No answer from the store at all (endpoint unreachable): retried as transient, then
    /// treated as `Store` with this next step.
    Unreachable(String),
    /// Every later call would fail the same way (no credentials, a missing container): the
    /// target stops at once. What the user should do next.
    Store(String),
    /// Anything else: the key fails.
    Permanent,
}

impl Failure {
    /// Throttled or transient when the shared markers (`looks_throttled`, `looks_transient`)
    /// say so, else permanent: for calls whose errors need no vendor's own reading.
    pub fn by_shared_markers(stderr: &str) -> Failure {
        if looks_throttled(stderr) {
            Failure::Throttled
        } else if looks_transient(stderr) {
            Failure::Transient
        } else {
            Failure::Permanent
        }
    }

    /// A store-level failure, when `stderr` holds one of `markers`.
    pub fn store_if(
        stderr: &str,
        markers: &[&str],
        next: impl FnOnce() -> String,
    ) -> Option<Failure> {
        markers
            .iter()
            .any(|m| stderr.contains(m))
            .then(|| Failure::Store(next()))
    }
}

/// What a pacing target does when its store throttles: the store's own guidance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// The least wait after a throttle before any further call (GitHub: one minute).
    pub least_wait: Duration,
    /// Once throttled, calls run one at a time and start at least this far apart, for the
    /// rest of the run (GitHub: one second); zero: concurrency recovers after successes.
    pub serial_gap: Duration,
    /// The cap of the exponential backoff with full jitter between throttled calls.
    pub cap: Duration,
}

/// Exponential backoff with full jitter, capped near 20 s: the AWS SDKs' own guidance, and
/// a fair default for the stores that give none.
pub const BACKOFF_PACING: Pacing = Pacing {
    least_wait: Duration::ZERO,
    serial_gap: Duration::ZERO,
    cap: Duration::from_secs(20),
};

/// A target that writes each key with its own vendor call.
pub trait PerKey: Sync {
    /// The first write for a key, knowing (if a list call succeeded) whether it exists.
    fn first_op(&self, exists: Option<bool>) -> Op {
        match exists {
            None | Some(true) => self.update_op(),
            Some(false) => Op::Create,
        }
    }
    /// The op used when the secret is (believed to be) present.
    fn update_op(&self) -> Op {
        Op::Set
    }
    fn push_cmd(&self, key: &str, op: Op) -> VendorCmd;
    /// One call per run that lists existing names, if the target chooses between create and
    /// update: one list call instead of a describe call per key.
    fn list_cmd(&self) -> Option<VendorCmd> {
        None
    }
    /// Names from the list call's stdout, as `Target::secret_name` spells them: slices of
    /// it, so that at 10,000 secrets the names are not held twice.
    fn parse_list<'a>(&self, _stdout: &'a str) -> Vec<&'a str> {
        Vec::new()
    }
    /// Whether this target marks what it creates and adds the marks to an existing secret
    /// that lacks them when it writes it (`mark_cmd`); the list call then shows which lack
    /// them, and is made (and awaited) in every writing run.
    fn marks(&self) -> bool {
        false
    }
    /// The names in the list call's stdout that lack any of this run's marks.
    fn parse_unmarked<'a>(&self, _stdout: &'a str) -> Vec<&'a str> {
        Vec::new()
    }
    /// The call that sets this run's marks on the existing secret of `key`.
    fn mark_cmd(&self, _key: &str) -> Option<VendorCmd> {
        None
    }
    fn classify(&self, stderr: &str, exit: Option<i32>) -> Failure;
    /// A failure the vendor's words do not explain well, in plain words with what to do
    /// (gcp's location policy); put before the vendor's text in the key's error.
    fn explain(&self, _stderr: &str) -> Option<String> {
        None
    }
    /// Words of the command that name the operation in WARNING lines.
    fn label_words(&self, op: Op) -> usize;
    /// What the user can do about a failed write of `key` whose vendor said `stderr`, when
    /// the vendor's own words do not say it; added to the key's error.
    fn failure_hint(&self, _key: &str, _stderr: &str) -> Option<String> {
        None
    }

    /// How a deleted secret that still holds its name is recognised and brought back, on a
    /// target that deletes recoverably.
    fn recovery(&self) -> Option<&dyn Recovers> {
        None
    }
}

/// A deleted secret, as the call showing it describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// Deleted, and marked as this repo's and env's: vsync may recover it.
    Mine,
    /// Deleted, without this repo's and env's marks: vsync leaves it alone.
    NotMine,
    /// Not (or no longer) deleted: the write may simply be tried again.
    Live,
}

/// A target that deletes recoverably, so that a deleted secret keeps its name: how vsync
/// tells its own deleted secrets from others' and brings its own back. Only a write that
/// meets the conflict (`Failure::Deleted`) uses it; `--diff` makes one listing call.
pub trait Recovers: Sync {
    /// The call that shows one deleted secret with its marks.
    fn show_deleted_cmd(&self, name: &str) -> VendorCmd;
    fn parse_deleted(&self, stdout: &str) -> Deleted;
    /// The call that brings the deleted secret back, with the value it had.
    fn recover_cmd(&self, name: &str) -> VendorCmd;
    /// Why a deleted secret was left alone, and the commands that free its name.
    fn left_alone(&self, name: &str) -> String;
    /// One call listing every deleted secret vsync could meet (for `--diff`).
    fn list_deleted_cmd(&self) -> VendorCmd;
    /// Each deleted secret's name in the listing, and whether it is vsync's.
    fn parse_list_deleted(&self, stdout: &str) -> Vec<(String, bool)>;
}

/// Whether `tag` (a lookup by tag name) shows every one of vsync's `marks` for `repo` and
/// `env`.
pub fn marked_as_ours<'t>(tag: impl Fn(&str) -> Option<&'t str>, repo: &str, env: &str) -> bool {
    marks(repo, env)
        .iter()
        .all(|(name, value)| tag(name) == Some(value.as_str()))
}

/// What a deleted secret's error adds when only the checkout folder's name identifies the
/// repository: marks spelt from a folder name prove nothing, so vsync recovers nothing.
pub fn unknown_owner_note(owner_known: bool) -> &'static str {
    if owner_known {
        ""
    } else {
        " (vsync recovers nothing here: only the checkout folder's name identifies this \
         repository, and two repositories checked out as the same folder carry the same marks; \
         pass --repo=NAME, set SECRETS_SYNC_REPO, or give the repository a git remote `origin`)"
    }
}

/// `--flag value` as a user types it, or `--flag=value` when the value starts with `-` (the
/// vendor CLIs' argparse would read it as an option).
pub fn typed_flag(flag: &str, value: &str) -> String {
    if value.starts_with('-') {
        format!("{flag}={value}")
    } else {
        format!("{flag} {value}")
    }
}

/// A target that writes every key in one vendor call: all land or none.
pub trait Bulk: Sync {
    /// The line printed before the write (`Writing N keys to M/P`).
    fn announce(&self, n: usize) -> String;
    fn write_cmd(&self) -> VendorCmd;
    /// What goes on the write's stdin.
    fn document(&self, tasks: &[SecretTask]) -> Vec<u8>;
    fn classify(&self, stderr: &str, exit: Option<i32>) -> Failure;
    /// `<vendor> <subcommand>` for the WARNING line.
    fn label(&self) -> String;
    /// How the write can carry stored keys over; `None`: it cannot.
    fn keeps(&self) -> Option<&dyn Keeps> {
        None
    }
}

/// A bulk target whose write replaces the keys it is not sent: it can carry stored keys over
/// (read first, then written back with the env file's), guarded against a concurrent change
/// where the store allows it.
pub trait Keeps: Sync {
    /// The call reading the whole stored document.
    fn stored_cmd(&self) -> VendorCmd;
    /// The stored document in that call's stdout.
    fn parse_stored(&self, stdout: &[u8]) -> Result<Stored, String>;
    /// Whether the read failed because nothing is stored yet.
    fn absent(&self, stderr: &str) -> bool;
    /// The write, failing if the document is no longer at `version` (when there is one).
    fn write_cmd_at(&self, version: Option<u64>) -> VendorCmd;
    /// The document the write sends: the tasks, and `kept` as stored.
    fn document_keeping(
        &self,
        tasks: &[SecretTask],
        kept: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<u8>;
    /// What to do about a failed guarded write, when the vendor's words do not say.
    fn advice(&self, stderr: &str) -> Option<&'static str>;
    /// Where the document is, for messages.
    fn location(&self) -> String;
}

/// A stored document, as `Keeps::parse_stored` reads it. Its values are secrets.
#[derive(Debug, Default, PartialEq)]
pub struct Stored {
    pub data: serde_json::Map<String, serde_json::Value>,
    /// The version a guarded write must find; `None` where the store keeps no versions.
    pub version: Option<u64>,
}

/// Throttling markers shared by every vendor: the store asks callers to slow down.
pub fn looks_throttled(stderr: &str) -> bool {
    const WORDS: &[&str] = &[
        "too many requests",
        "rate limit",
        "rate exceeded",
        "throttl",
        "toomanyupdates",
        "resource_exhausted",
        "slowdown",
    ];
    let lower = stderr.to_ascii_lowercase();
    WORDS.iter().any(|m| lower.contains(m)) || has_number(&lower, "429")
}

/// Transient-error markers shared by every vendor (HTTP status texts, network trouble);
/// throttling counts too, for callers that only ask "worth another attempt?"
pub fn looks_transient(stderr: &str) -> bool {
    const WORDS: &[&str] = &[
        "too many requests",
        "rate limit",
        "rate exceeded",
        "throttl",
        "internal server error",
        "bad gateway",
        "service unavailable",
        "gateway timeout",
        "timed out",
        "connection reset",
        "connection refused",
        "temporarily unavailable",
    ];
    const STATUSES: &[&str] = &["429", "500", "502", "503", "504"];
    let lower = stderr.to_ascii_lowercase();
    WORDS.iter().any(|m| lower.contains(m)) || STATUSES.iter().any(|code| has_number(&lower, code))
}

/// Whether `code` stands in `text` as a number of its own. Vendor messages carry URLs, ports
/// and key names (`127.0.0.1:45029`, `API_503`); a status code must not be found inside them.
fn has_number(text: &str, code: &str) -> bool {
    let bytes = text.as_bytes();
    let part_of_word = |i: usize| {
        bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    text.match_indices(code).any(|(at, _)| {
        !(at.checked_sub(1).is_some_and(part_of_word) || part_of_word(at + code.len()))
    })
}

/// Checks that none of `user` (names and routing values from the env file, config or flags)
/// The target `name` opened with the routing flags `flags` (without `--`) and `x` for every
/// other required setting, for the env `dev` and the repo `r`: for tests outside the targets
/// that need a target and not its fields.
#[cfg(test)]
pub fn opened(name: &str, flags: &[(&str, &str)]) -> Box<dyn Target> {
    let backend = find(name).expect("a target of the registry");
    let mut settings = Settings::default();
    for setting in backend.settings {
        let given = flags.iter().find(|(f, _)| *f == setting.flag);
        match given {
            Some((_, v)) => settings.set(setting, v.to_string()),
            None if setting.required => settings.set(setting, "x".to_string()),
            None => {}
        }
    }
    let open = Open {
        env: "dev",
        repo: "r",
        owner: None,
    };
    (backend.open)(&settings, &open)
}

/// stands alone before `--` in `cmd`, where a vendor CLI could read it as an option, and that
/// each still reaches the command, joined to a flag with `=` or after `--`.
#[cfg(test)]
pub fn assert_option_safe(cmd: &VendorCmd, user: &[&str]) {
    let end = cmd
        .args
        .iter()
        .position(|a| a == "--")
        .unwrap_or(cmd.args.len());
    for value in user {
        assert!(
            !cmd.args[..end].iter().any(|a| a == value),
            "{value:?} stands alone before `--` in {:?}",
            cmd.args
        );
        let joined = cmd.args[..end].iter().any(|a| {
            a.starts_with('-') && a.split_once('=').is_some_and(|(_, v)| v.contains(value))
        });
        let after = cmd.args[end..].iter().skip(1).any(|a| a == value);
        assert!(joined || after, "{value:?} missing from {:?}", cmd.args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_is_found_by_its_name_and_unknown_names_are_not() {
        for &backend in REGISTRY {
            assert_eq!(find(backend.name), Some(backend));
        }
        assert_eq!(find("all"), None);
        assert_eq!(find("GH"), None);
        assert_eq!(find(""), None);
        assert_eq!(names_for_humans(), "gh, gcp, aws, azure, vault or ssm");
    }

    #[test]
    fn every_target_opens_as_itself_from_its_settings() {
        for &backend in REGISTRY {
            let mut settings = Settings::default();
            for setting in backend.settings {
                settings.set(setting, "x".into());
            }
            let open = Open {
                env: "dev",
                repo: "r",
                owner: Some("r"),
            };
            let target = (backend.open)(&settings, &open);
            assert_eq!(target.backend(), backend);
            assert!(target.banner(3).starts_with("Syncing 3 secrets to "));
        }
    }

    #[test]
    fn every_routing_flag_belongs_to_exactly_one_target() {
        let mut flags: Vec<&str> = REGISTRY
            .iter()
            .flat_map(|k| k.settings.iter().map(|s| s.flag))
            .collect();
        let n = flags.len();
        flags.sort();
        flags.dedup();
        assert_eq!(flags.len(), n);
        assert_eq!(owning_flag("aws-region"), Some(&aws::BACKEND));
        assert_eq!(owning_flag("vault-path"), Some(&vault::BACKEND));
        assert_eq!(owning_flag("workers"), None);
    }

    #[test]
    fn names_differing_in_case_are_one_secret_only_on_gh_and_azure() {
        for &t in REGISTRY {
            let same = t.name_identity("api_key") == t.name_identity("API_KEY");
            assert_eq!(same, matches!(t.name, "gh" | "azure"), "{}", t.name);
            assert_ne!(t.name_identity("A"), t.name_identity("B"));
        }
    }

    #[test]
    fn names_compare_as_their_identities_do() {
        let keys = [
            "api_key", "API_KEY", "Api_Key2", "straße", "STRASSE", "ǅ", "ǆ", "B", "a",
        ];
        for &t in REGISTRY {
            for a in keys {
                for b in keys {
                    assert_eq!(
                        t.compare_names(a, b),
                        t.name_identity(a).cmp(&t.name_identity(b)),
                        "{}: {a} vs {b}",
                        t.name
                    );
                }
            }
        }
    }

    #[test]
    fn universal_newlines_turn_crlf_and_lone_cr_into_lf() {
        assert_eq!(&*universal_newlines(b"a\r\nb\rc\n"), b"a\nb\nc\n");
        assert!(matches!(universal_newlines(b"plain\n"), Cow::Borrowed(_)));
        assert_eq!(&*universal_newlines(b"\r"), b"\n");
    }

    #[test]
    fn owner_labels_are_lowercase_word_characters_of_at_most_63() {
        assert_eq!(owner_label("My.Repo/x"), "my_repo_x");
        assert_eq!(owner_label("dev-2_a"), "dev-2_a");
        assert_eq!(owner_label("é'"), "__");
        let long = owner_label(&"A".repeat(70));
        assert_eq!(long.len(), 63);
        assert!(long.starts_with(&"a".repeat(50)), "{long}");
    }

    #[test]
    fn the_repo_mark_is_the_owner_else_the_config_namespace_as_before() {
        let open = Open {
            env: "Prod.EU",
            repo: "My.App",
            owner: Some("github-com-acme-api-0123456789ab"),
        };
        assert_eq!(open.repo_mark(), "github-com-acme-api-0123456789ab");
        assert_eq!(open.env_mark(), "prod_eu");
        let folder_only = Open {
            owner: None,
            ..open
        };
        assert_eq!(folder_only.repo_mark(), "my_app");
        assert!(could_be_key("DB_URL") && !could_be_key("") && !could_be_key("2/OTHER"));
    }

    #[test]
    fn two_long_names_that_share_their_first_63_characters_are_two_labels() {
        let base = "github.com/acme-corporation/the-platform-team/services/payments";
        let (a, b) = (format!("{base}-api"), format!("{base}-worker"));
        let (la, lb) = (owner_label(&a), owner_label(&b));
        assert_ne!(la, lb);
        for l in [&la, &lb] {
            assert!(l.len() <= 63, "{l}");
            assert!(
                l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c)),
                "{l}"
            );
        }
        assert_eq!(owner_label(&a), la, "the same name, the same label");
        // Names that fit keep the spelling earlier versions wrote.
        assert_eq!(owner_label(&"b".repeat(63)), "b".repeat(63));
        let h = hashed_label("a_b_c", "a.b/c");
        assert_ne!(h, hashed_label("a_b_c", "a_b/c"));
        assert!(h.starts_with("a_b_c-") && h.len() == 18, "{h}");
    }

    #[test]
    fn env_defaults_apply_only_where_the_user_set_none_of_them() {
        let mut cmd = VendorCmd::new("aws", &[]);
        cmd.env_defaults = &[("AWS_RETRY_MODE", "standard"), ("AWS_MAX_ATTEMPTS", "2")];
        assert_eq!(cmd.defaults_to_set(|_| false), cmd.env_defaults);
        assert!(cmd.defaults_to_set(|k| k == "AWS_MAX_ATTEMPTS").is_empty());
        assert!(cmd.defaults_to_set(|k| k == "AWS_RETRY_MODE").is_empty());
        assert_eq!(cmd.display(), "aws");
    }

    #[test]
    fn labels_name_the_program_and_operation() {
        let cmd = VendorCmd::new("gcloud", &["secrets", "versions", "add", "K"]);
        assert_eq!(cmd.label(3), "gcloud secrets versions add");
    }

    #[test]
    fn display_quotes_only_unusual_words() {
        let mut cmd = VendorCmd::new("aws", &["--query", "SecretList[].Name", "plain-1"]);
        cmd.env.push(("VAULT_ADDR", "http://x:1".into()));
        assert_eq!(
            cmd.display(),
            "VAULT_ADDR=http://x:1 aws --query 'SecretList[].Name' plain-1"
        );
    }

    #[test]
    fn throttling_and_server_errors_are_transient_but_not_found_is_not() {
        assert!(looks_transient(
            "HTTP 429: You have exceeded a secondary rate limit"
        ));
        assert!(looks_transient(
            "An error occurred (ThrottlingException) when calling the PutSecretValue operation: Rate exceeded"
        ));
        assert!(looks_transient("Code: 503. Errors: * Vault is sealed"));
        assert!(looks_transient("HTTP 502 (https://api.github.com/x)"));
        assert!(looks_transient("ResponseError: code=500"));
        assert!(!looks_transient(
            "NOT_FOUND: Secret [projects/p/secrets/A] not found"
        ));
    }

    /// A status code is read only where it stands as a number: the port in a vendor's URL or a
    /// key name that holds one must not turn a permanent error into three attempts.
    #[test]
    fn status_codes_inside_ports_and_names_are_not_transient() {
        assert!(!looks_transient(
            "Error writing data to secret/data/app/dev: Error making API request.\n\n\
             URL: PUT http://127.0.0.1:45029/v1/secret/data/app/dev\n\
             Code: 400. Errors:\n\n* refused JSON input due to high complexity"
        ));
        for port in ["42950", "15030", "5040", "38500"] {
            let stderr = format!("URL: PUT http://127.0.0.1:{port}/v1/x\nCode: 400.");
            assert!(!looks_transient(&stderr), "{stderr}");
        }
        assert!(!looks_transient("HTTP 422: secret API_503 is invalid"));
        assert!(!looks_transient("HTTP 404: K429 not found"));
    }

    #[test]
    fn ownership_needs_all_three_marks_with_this_repo_and_env() {
        let tags = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
        };
        const ALL: &[(&str, &str)] = &[
            ("managed-by", "vsync"),
            ("vsync-repo", "api"),
            ("vsync-env", "dev"),
        ];
        assert!(marked_as_ours(tags(ALL), "api", "dev"));
        assert!(!marked_as_ours(tags(ALL), "api", "prod"));
        assert!(!marked_as_ours(tags(ALL), "web", "dev"));
        assert!(!marked_as_ours(
            tags(&[("vsync-repo", "api"), ("vsync-env", "dev")]),
            "api",
            "dev"
        ));
        assert!(!marked_as_ours(tags(&[]), "api", "dev"));
    }

    #[test]
    fn a_typed_flag_joins_a_value_that_looks_like_an_option() {
        assert_eq!(typed_flag("--name", "B"), "--name B");
        assert_eq!(typed_flag("--name", "-h"), "--name=-h");
    }
}
