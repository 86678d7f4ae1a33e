//! The read, list-by-label and delete calls of the REAL vendor CLIs, each pointed at a
//! server on 127.0.0.1: gcloud → `fixtures/doubles/gcp_secretmanager.py`, gh →
//! `fixtures/doubles/gh_api.py`, aws → moto. They pin down the command lines that keep a
//! user's name out of every option position (`=` forms, `--` before positionals), what each
//! CLI prints on stdout, and its error text and exit code for a missing secret and for a
//! caller without the permission, and they check that the doubles answer as the APIs do.
//!
//! Verified with (2026-11, Debian bookworm): Google Cloud SDK 528.0.0, gh 2.23.0 (Debian),
//! aws-cli 1.45.11 + moto 5.2.5.
//!
//! Needs what `tests/real/cli.rs` needs (`.ci/install-test-deps`, `VSYNC_TEST_PYTHON`). A test
//! whose CLI or Python packages are missing prints `SKIP: …` and passes, unless `CI` is set.

use crate::common::{Server, double_port, manifest_dir, moto_port, prerequisites, requests, show};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

fn run_bounded(cmd: Command, stdin: &[u8]) -> Output {
    crate::support::run_bounded(cmd, stdin, RUN_TIMEOUT)
}

/// A vendor CLI with a cleared environment: PATH plus `env`.
struct Cli {
    bin: &'static str,
    env: Vec<(String, OsString)>,
}

impl Cli {
    fn run_with(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = Command::new(self.bin);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        run_bounded(cmd, stdin)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, b"")
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {args:?}\n{}",
            self.bin,
            show(&out)
        );
        out
    }

    /// Runs a command that must fail with `code`; returns its stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{} {args:?}\n{}",
            self.bin,
            show(&out)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// POSTs JSON to a test endpoint of a double, through the test Python (the gh double speaks
/// only HTTPS); `cafile` is the certificate to trust, if any.
fn post(python: &Path, url: &str, body: &Value, cafile: Option<&Path>) {
    let code = "import sys, ssl, urllib.request as u\n\
                ctx = ssl.create_default_context(cafile=sys.argv[3]) if sys.argv[3] else None\n\
                r = u.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST')\n\
                assert u.urlopen(r, context=ctx).status == 200\n";
    let ca = cafile.map(|p| p.display().to_string()).unwrap_or_default();
    let out = Command::new(python)
        .args(["-c", code, url, &body.to_string(), &ca])
        .output()
        .unwrap();
    assert!(out.status.success(), "POST {url}\n{}", show(&out));
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("vsync-real-doubles")
        .tempdir()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// gcloud → Secret Manager double

#[test]
fn gcloud_reads_lists_by_label_and_deletes_through_the_double() {
    let Some(python) = prerequisites("gcloud", &[]) else {
        return;
    };
    let tmp = tempdir();
    let state_file = tmp.path().join("state.json");
    let mut cmd = Command::new(&python);
    cmd.arg(manifest_dir().join("fixtures/doubles/gcp_secretmanager.py"))
        .arg("--state-file")
        .arg(&state_file)
        .args(["--deny", "^GET .*/secrets/LOCKED"]);
    let double = Server::start(cmd, double_port);
    let gcloud = Cli {
        bin: "gcloud",
        env: vec![
            (
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER".into(),
                format!("http://127.0.0.1:{}/", double.port).into(),
            ),
            ("CLOUDSDK_AUTH_DISABLE_CREDENTIALS".into(), "true".into()),
            ("CLOUDSDK_CONFIG".into(), tmp.path().join("gcloud").into()),
            ("CLOUDSDK_CORE_DISABLE_PROMPTS".into(), "1".into()),
        ],
    };
    let p = "--project=vsync-test";
    // Every option before `--`, so the id after it is never read as an option.
    let create = |id: &str, labels: &str, value: &[u8]| {
        let mut args = vec!["secrets", "create", "--data-file=-", p];
        let labels = format!("--labels={labels}");
        if !labels.ends_with('=') {
            args.push(&labels);
        }
        args.extend(["--", id]);
        let out = gcloud.run_with(&args, value);
        assert!(out.status.success(), "create {id}\n{}", show(&out));
    };
    let ours = "managed-by=vsync,vsync-repo=r,vsync-env=dev";
    let raw: &[u8] = b"line one\r\nline two\r\n\xff\x00end\n";
    create("RAW", ours, raw);
    create("-h", ours, "héllo ✓".as_bytes());
    create("PROD", "managed-by=vsync,vsync-repo=r,vsync-env=prod", b"p");
    create("FOREIGN", "", b"f");
    create("LOCKED", ours, b"l");
    // Label values: lower case, digits, `-`, `_` only; gcloud refuses others itself (exit 2,
    // no request), so a repository name like `acme/api` must be encoded first.
    let seen = requests(&read_json(&state_file)).len();
    for bad in ["acme/api", "Dev"] {
        let label = format!("--labels=vsync-repo={bad}");
        let out = gcloud.run_with(
            &["secrets", "create", "--data-file=-", p, &label, "--", "BAD"],
            b"v",
        );
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with(&format!(
                "ERROR: (gcloud.secrets.create) argument --labels: Bad value [{bad}]: Only \
                 hyphens (-), underscores (_), lowercase characters, and numbers are allowed."
            )),
            "{}",
            show(&out)
        );
    }
    assert_eq!(requests(&read_json(&state_file)).len(), seen);
    let state = read_json(&state_file);
    assert_eq!(
        state["secrets"]["vsync-test"]["-h"]["labels"],
        json!({"managed-by": "vsync", "vsync-repo": "r", "vsync-env": "dev"}),
        "labels stored"
    );

    // list --filter: gcloud sends the filter to the API (and filters again itself); stdout
    // is one short id per line.
    let seen = requests(&state).len();
    let out = gcloud.ok(&[
        "secrets",
        "list",
        p,
        "--filter=labels.managed-by=vsync AND labels.vsync-env=dev",
        "--format=value(name)",
    ]);
    assert_eq!(stdout(&out), "-h\nLOCKED\nRAW\n");
    let reqs = requests(&read_json(&state_file))[seen..].to_vec();
    assert_eq!(
        reqs,
        ["GET /v1/projects/vsync-test/secrets?alt=json&\
          filter=labels.managed-by%3Dvsync+AND+labels.vsync-env%3Ddev&pageSize=100"],
        "server-side filter"
    );
    // Nothing matches: empty stdout, exit 0, a WARNING on stderr.
    let out = gcloud.ok(&[
        "secrets",
        "list",
        p,
        "--filter=labels.managed-by=vsync AND labels.vsync-env=staging",
        "--format=value(name)",
    ]);
    assert_eq!(stdout(&out), "");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("WARNING: The following filter keys"),
        "{}",
        show(&out)
    );

    // versions access: the plain output decodes the payload as UTF-8 (U+FFFD for bad
    // bytes); --format=json carries the exact bytes as base64, after gcloud checked the
    // checksum. `--secret=-h` is a name, not the help flag.
    let access = |id: &str, extra: &[&str]| -> Output {
        let secret = format!("--secret={id}");
        let mut args = vec![
            "secrets",
            "versions",
            "access",
            "latest",
            secret.as_str(),
            p,
        ];
        args.extend(extra);
        gcloud.run(&args)
    };
    let out = access("RAW", &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(out.stdout, b"line one\r\nline two\r\n\xef\xbf\xbd\x00end\n");
    let out = access("RAW", &["--format=json"]);
    assert!(out.status.success(), "{}", show(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["name"], "projects/vsync-test/secrets/RAW/versions/1",
        "{v:#}"
    );
    assert_eq!(
        crate::support::base64_decode(v["payload"]["data"].as_str().unwrap()),
        raw
    );
    assert!(v["payload"]["dataCrc32c"].is_string(), "{v:#}");
    let out = access("-h", &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "héllo ✓", "no newline added");
    let reqs = requests(&read_json(&state_file));
    assert!(
        reqs.contains(
            &"GET /v1/projects/vsync-test/secrets/-h/versions/latest:access?alt=json".into()
        ),
        "{reqs:?}"
    );

    // gcloud checks dataCrc32c before printing: damaged data is an error, never output.
    post(
        &python,
        &format!("http://127.0.0.1:{}/__corrupt", double.port),
        &json!({"secret": "PROD"}),
        None,
    );
    for format in ["--format=json", "--verbosity=error"] {
        let out = access("PROD", &[format]);
        assert_eq!(out.status.code(), Some(1), "{}", show(&out));
        assert_eq!(stdout(&out), "");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "ERROR: (gcloud.secrets.versions.access) An incorrect data_crc32c was calculated \
             for the provided payload. This might be a transient issue that resolves with a \
             retry. If this is happening repeatedly open an issue with Secret Manager at \
             https://issuetracker.google.com/issues/new?component=784854&template=1380926.\n"
        );
    }

    let unauth = " This command is unauthenticated because the [auth/disable_credentials] \
                  property is True.\n";
    let err = gcloud.fails(
        &[
            "secrets",
            "versions",
            "access",
            "latest",
            "--secret=MISSING",
            p,
        ],
        1,
    );
    assert_eq!(
        err,
        format!(
            "ERROR: (gcloud.secrets.versions.access) NOT_FOUND: Secret \
             [projects/vsync-test/secrets/MISSING] not found or has no versions.{unauth}"
        )
    );
    let err = gcloud.fails(
        &[
            "secrets",
            "versions",
            "access",
            "latest",
            "--secret=LOCKED",
            p,
        ],
        1,
    );
    assert_eq!(
        err,
        format!(
            "ERROR: (gcloud.secrets.versions.access) PERMISSION_DENIED: Permission \
             'secretmanager.versions.access' denied for resource \
             'projects/vsync-test/secrets/LOCKED/versions/latest' (or it may not exist).{unauth}"
        )
    );

    // delete: lists the versions (for its prompt), then DELETE; "Deleted secret [ID]." on
    // stderr, nothing on stdout.
    let seen = requests(&read_json(&state_file)).len();
    let out = gcloud.ok(&["secrets", "delete", p, "--quiet", "--", "-h"]);
    assert_eq!(stdout(&out), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Deleted secret [-h].\n"
    );
    let out = gcloud.ok(&["secrets", "delete", "RAW", p, "--quiet"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Deleted secret [RAW].\n"
    );
    let reqs = requests(&read_json(&state_file))[seen..].to_vec();
    assert_eq!(
        reqs,
        [
            "GET /v1/projects/vsync-test/secrets/-h/versions?alt=json&pageSize=0",
            "DELETE /v1/projects/vsync-test/secrets/-h?alt=json",
            "GET /v1/projects/vsync-test/secrets/RAW/versions?alt=json&pageSize=0",
            "DELETE /v1/projects/vsync-test/secrets/RAW?alt=json",
        ]
    );
    let err = gcloud.fails(&["secrets", "delete", p, "--quiet", "--", "-h"], 1);
    assert_eq!(
        err,
        format!(
            "ERROR: (gcloud.secrets.delete) NOT_FOUND: Secret \
             [projects/vsync-test/secrets/-h] not found.{unauth}"
        )
    );
    // Denied: the version listing before the delete is what meets the missing permission.
    let err = gcloud.fails(&["secrets", "delete", p, "--quiet", "--", "LOCKED"], 1);
    assert_eq!(
        err,
        format!(
            "ERROR: (gcloud.secrets.delete) PERMISSION_DENIED: Permission \
             'secretmanager.versions.list' denied for resource \
             'projects/vsync-test/secrets/LOCKED' (or it may not exist).{unauth}"
        )
    );
    let out = gcloud.ok(&["secrets", "list", p, "--format=value(name)"]);
    assert_eq!(stdout(&out), "FOREIGN\nLOCKED\nPROD\n");
}

// ---------------------------------------------------------------------------------------------
// gh → GitHub Enterprise secrets API double (HTTPS)

#[test]
fn gh_lists_and_deletes_environment_secrets_through_the_double() {
    let Some(python) = prerequisites("gh", &["nacl", "cryptography"]) else {
        return;
    };
    let tmp = tempdir();
    let state_file = tmp.path().join("state.json");
    let mut cmd = Command::new(&python);
    cmd.arg(manifest_dir().join("fixtures/doubles/gh_api.py"))
        .arg("--dir")
        .arg(tmp.path())
        .arg("--state-file")
        .arg(&state_file)
        .args(["--environments", "dev,big,empty"])
        .args(["--deny", "/secrets/LOCKED$"]);
    let double = Server::start(cmd, double_port);
    let cert = tmp.path().join("cert.pem");
    let host = format!("127.0.0.1:{}", double.port);
    let gh = Cli {
        bin: "gh",
        env: vec![
            ("GH_HOST".into(), host.clone().into()),
            ("GH_ENTERPRISE_TOKEN".into(), "test-token".into()),
            ("GH_TOKEN".into(), "test-token".into()),
            ("SSL_CERT_FILE".into(), cert.clone().into()),
            ("GH_CONFIG_DIR".into(), tmp.path().join("gh").into()),
            ("GH_NO_UPDATE_NOTIFIER".into(), "1".into()),
            ("GH_PROMPT_DISABLED".into(), "1".into()),
        ],
    };
    for name in ["ALPHA", "beta", "GAMMA"] {
        let out = gh.run_with(
            &["secret", "set", "--env=dev", "--repo=acme/api", "--", name],
            b"v",
        );
        assert!(out.status.success(), "set {name}\n{}", show(&out));
    }
    let today = read_json(&state_file)["secrets"]["acme/api"]["dev"]["ALPHA"]["updated_at"]
        .as_str()
        .unwrap()[..10]
        .to_string();

    // list: not a terminal, so one `NAME<TAB>YYYY-MM-DD` line per secret, names as GitHub
    // stores them (upper case), sorted by the API.
    let out = gh.ok(&["secret", "list", "--env=dev", "--repo=acme/api"]);
    assert_eq!(
        stdout(&out),
        format!("ALPHA\t{today}\nBETA\t{today}\nGAMMA\t{today}\n")
    );
    let out = gh.ok(&["secret", "list", "--env=empty", "--repo=acme/api"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    // `--environments dev,big,empty`: any other environment is a 404, as on GitHub.
    let err = gh.fails(&["secret", "list", "--env=nope", "--repo=acme/api"], 1);
    assert_eq!(
        err,
        format!(
            "failed to get secrets: HTTP 404: Not Found \
             (https://{host}/api/v3/repos/acme/api/environments/nope/secrets?per_page=100)\n"
        )
    );

    // Pages: gh asks 100 per page and follows the Link header.
    let names: Vec<String> = (1..=130).map(|i| format!("S{i:03}")).collect();
    post(
        &python,
        &format!("https://{host}/__seed"),
        &json!({"repo": "acme/api", "env": "big", "names": names}),
        Some(&cert),
    );
    let out = gh.ok(&["secret", "list", "--env=big", "--repo=acme/api"]);
    let listed: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    assert_eq!(listed, names);
    let reqs = requests(&read_json(&state_file));
    let pages: Vec<&String> = reqs.iter().filter(|r| r.contains("/big/")).collect();
    assert_eq!(
        pages,
        [
            "GET /api/v3/repos/acme/api/environments/big/secrets?per_page=100",
            "GET /api/v3/repos/acme/api/environments/big/secrets?per_page=100&page=2",
        ]
    );

    // delete: 204, silent on both streams; the name is case-insensitive; `--` keeps it out
    // of the option positions.
    let out = gh.ok(&[
        "secret",
        "delete",
        "--env=dev",
        "--repo=acme/api",
        "--",
        "alpha",
    ]);
    assert_eq!(stdout(&out), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    gh.ok(&[
        "secret", "delete", "BETA", "--env", "dev", "--repo", "acme/api",
    ]);
    let out = gh.ok(&["secret", "list", "--env=dev", "--repo=acme/api"]);
    assert_eq!(stdout(&out), format!("GAMMA\t{today}\n"));
    let reqs = requests(&read_json(&state_file));
    assert!(
        reqs.contains(&"DELETE /api/v3/repos/acme/api/environments/dev/secrets/alpha".into()),
        "{reqs:?}"
    );
    let err = gh.fails(
        &[
            "secret",
            "delete",
            "--env=dev",
            "--repo=acme/api",
            "--",
            "ALPHA",
        ],
        1,
    );
    assert_eq!(
        err,
        format!(
            "failed to delete secret ALPHA: HTTP 404: Not Found \
             (https://{host}/api/v3/repos/acme/api/environments/dev/secrets/ALPHA)\n"
        )
    );
    let err = gh.fails(
        &[
            "secret",
            "delete",
            "--env=dev",
            "--repo=acme/api",
            "--",
            "LOCKED",
        ],
        1,
    );
    assert_eq!(
        err,
        format!(
            "failed to delete secret LOCKED: HTTP 403: Resource not accessible by integration \
             (https://{host}/api/v3/repos/acme/api/environments/dev/secrets/LOCKED)\n"
        )
    );
    post(
        &python,
        &format!("https://{host}/__deny"),
        &json!({"match": "GET .*/environments/dev/secrets$"}),
        Some(&cert),
    );
    let err = gh.fails(&["secret", "list", "--env=dev", "--repo=acme/api"], 1);
    assert_eq!(
        err,
        format!(
            "failed to get secrets: HTTP 403: Resource not accessible by integration \
             (https://{host}/api/v3/repos/acme/api/environments/dev/secrets?per_page=100)\n"
        )
    );
}

// ---------------------------------------------------------------------------------------------
// aws → moto

fn moto(python: &Path, env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(python);
    cmd.args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
        .envs(env.iter().copied());
    Server::start(cmd, moto_port)
}

fn aws_cli(port: u16, dir: &Path, key: (&str, &str)) -> Cli {
    let url: OsString = format!("http://127.0.0.1:{port}").into();
    Cli {
        bin: "aws",
        env: vec![
            ("AWS_ENDPOINT_URL".into(), url),
            ("AWS_ACCESS_KEY_ID".into(), key.0.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), key.1.into()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ("AWS_CONFIG_FILE".into(), dir.join("aws-config").into()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                dir.join("aws-credentials").into(),
            ),
        ],
    }
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(out)))
}

#[test]
fn aws_batch_reads_lists_and_deletes_through_moto() {
    let Some(python) = prerequisites("aws", &["moto.server"]) else {
        return;
    };
    let tmp = tempdir();
    let server = moto(&python, &[]);
    let aws = aws_cli(server.port, tmp.path(), ("test", "test"));
    for name in ["app/dev/A", "app/dev/B", "-h", "other/C"] {
        aws.ok(&[
            "secretsmanager",
            "create-secret",
            &format!("--name={name}"),
            &format!("--secret-string=value of {name}"),
        ]);
    }

    // batch-get-secret-value: a JSON list in the `=` form is one argument, so `-h` stays a
    // name. Repeating `--secret-id-list=` keeps only the last; the space form reads `-h` as
    // the help flag.
    let ids = json!(["app/dev/A", "-h", "app/dev/MISSING"]).to_string();
    let out = aws.ok(&[
        "secretsmanager",
        "batch-get-secret-value",
        &format!("--secret-id-list={ids}"),
        "--output=json",
    ]);
    let v = json_of(&out);
    let got: Vec<(&str, &str)> = v["SecretValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Name"].as_str().unwrap(),
                s["SecretString"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("app/dev/A", "value of app/dev/A"), ("-h", "value of -h")]
    );
    assert_eq!(
        v["Errors"],
        json!([{"SecretId": "app/dev/MISSING", "ErrorCode": "ResourceNotFoundException",
                "Message": "Secrets Manager can't find the specified secret."}])
    );
    let out = aws.ok(&[
        "secretsmanager",
        "batch-get-secret-value",
        "--secret-id-list=app/dev/A",
        "--secret-id-list=app/dev/B",
        "--output=json",
    ]);
    assert_eq!(json_of(&out)["SecretValues"].as_array().unwrap().len(), 1);
    aws.fails(
        &[
            "secretsmanager",
            "batch-get-secret-value",
            "--secret-id-list",
            "app/dev/A",
            "-h",
        ],
        255,
    );
    // moto does not enforce the API's limit of 20 ids per call (the caller must chunk).
    let many: Vec<String> = (0..21).map(|i| format!("n{i}")).collect();
    let out = aws.ok(&[
        "secretsmanager",
        "batch-get-secret-value",
        &format!("--secret-id-list={}", json!(many)),
        "--output=json",
    ]);
    assert_eq!(json_of(&out)["Errors"].as_array().unwrap().len(), 21);

    // list-secrets by name prefix (JSON filter form: no shorthand parsing of the value).
    let filter = json!([{"Key": "name", "Values": ["app/dev/"]}]).to_string();
    let out = aws.ok(&[
        "secretsmanager",
        "list-secrets",
        &format!("--filters={filter}"),
        "--query=SecretList[].Name",
        "--output=json",
    ]);
    assert_eq!(json_of(&out), json!(["app/dev/A", "app/dev/B"]));

    // delete-secret: scheduled deletion; the secret then reads as marked deleted.
    let out = aws.ok(&[
        "secretsmanager",
        "delete-secret",
        "--secret-id=-h",
        "--recovery-window-in-days=7",
        "--output=json",
    ]);
    let v = json_of(&out);
    assert_eq!(v["Name"], "-h");
    assert!(
        v["DeletionDate"].is_number() && v["ARN"].is_string(),
        "{v:#}"
    );
    // Scheduled for deletion (moto's answers): a second delete and a create of the same name
    // fail; moto still lets put-secret-value through.
    let err = aws.fails(
        &[
            "secretsmanager",
            "delete-secret",
            "--secret-id=-h",
            "--recovery-window-in-days=7",
        ],
        255,
    );
    assert!(
        err.contains("(InvalidRequestException) when calling the DeleteSecret operation")
            && err.contains("currently marked deleted"),
        "{err}"
    );
    let err = aws.fails(
        &[
            "secretsmanager",
            "create-secret",
            "--name=-h",
            "--secret-string=again",
        ],
        255,
    );
    assert_eq!(
        err,
        "\nAn error occurred (ResourceExistsException) when calling the CreateSecret \
         operation: The operation failed because the secret -h already exists.\n"
    );
    let err = aws.fails(
        &[
            "secretsmanager",
            "delete-secret",
            "--secret-id=app/dev/MISSING",
            "--recovery-window-in-days=7",
        ],
        255,
    );
    assert_eq!(
        err,
        "\nAn error occurred (ResourceNotFoundException) when calling the DeleteSecret \
         operation: Secrets Manager can't find the specified secret.\n"
    );
    let err = aws.fails(
        &[
            "secretsmanager",
            "get-secret-value",
            "--secret-id=app/dev/MISSING",
        ],
        255,
    );
    assert_eq!(
        err,
        "\nAn error occurred (ResourceNotFoundException) when calling the GetSecretValue \
         operation: Secrets Manager can't find the specified secret.\n"
    );
    let out = aws.ok(&[
        "secretsmanager",
        "list-secrets",
        "--query=SecretList[].Name",
        "--output=json",
    ]);
    assert_eq!(json_of(&out), json!(["app/dev/A", "app/dev/B", "other/C"]));

    // SSM: get-parameters-by-path reads names and decrypted values of a whole tree.
    for name in ["/app/dev/A", "/app/dev/sub/B", "/app/prod/C"] {
        aws.ok(&[
            "ssm",
            "put-parameter",
            &format!("--name={name}"),
            "--type=SecureString",
            &format!("--value=v{name}"),
        ]);
    }
    let out = aws.ok(&[
        "ssm",
        "get-parameters-by-path",
        "--path=/app/dev",
        "--recursive",
        "--with-decryption",
        "--output=json",
    ]);
    let v = json_of(&out);
    let got: Vec<(&str, &str, &str)> = v["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["Name"].as_str().unwrap(),
                p["Type"].as_str().unwrap(),
                p["Value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/app/dev/A", "SecureString", "v/app/dev/A"),
            ("/app/dev/sub/B", "SecureString", "v/app/dev/sub/B")
        ]
    );
    let out = aws.ok(&[
        "ssm",
        "get-parameters-by-path",
        "--path=/nothing",
        "--recursive",
        "--with-decryption",
        "--output=json",
    ]);
    assert_eq!(json_of(&out), json!({"Parameters": []}));

    // delete-parameters: a JSON list in the `=` form; missing names come back as invalid,
    // exit 0. moto does not enforce the API's limit of 10 names.
    let names = json!(["/app/dev/A", "/app/dev/MISSING"]).to_string();
    let out = aws.ok(&[
        "ssm",
        "delete-parameters",
        &format!("--names={names}"),
        "--output=json",
    ]);
    assert_eq!(
        json_of(&out),
        json!({"DeletedParameters": ["/app/dev/A"], "InvalidParameters": ["/app/dev/MISSING"]})
    );
}

#[test]
fn aws_access_denied_as_moto_simulates_it() {
    let Some(python) = prerequisites("aws", &["moto.server"]) else {
        return;
    };
    let tmp = tempdir();
    // moto checks IAM policies once this many requests were served.
    let server = moto(&python, &[("INITIAL_NO_AUTH_ACTION_COUNT", "4")]);
    let admin = aws_cli(server.port, tmp.path(), ("test", "test"));
    admin.ok(&[
        "secretsmanager",
        "create-secret",
        "--name=S",
        "--secret-string=v",
    ]);
    admin.ok(&["iam", "create-user", "--user-name=reader"]);
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"}]});
    admin.ok(&[
        "iam",
        "put-user-policy",
        "--user-name=reader",
        "--policy-name=list-only",
        &format!("--policy-document={policy}"),
    ]);
    let key = json_of(&admin.ok(&[
        "iam",
        "create-access-key",
        "--user-name=reader",
        "--output=json",
    ]));
    let reader = aws_cli(
        server.port,
        tmp.path(),
        (
            key["AccessKey"]["AccessKeyId"].as_str().unwrap(),
            key["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
        ),
    );
    reader.ok(&["secretsmanager", "list-secrets"]);
    // moto answers a JSON-protocol service with an XML error body, so aws-cli shows the HTTP
    // status and the raw XML, not `(AccessDeniedException) … : User: … is not authorized`.
    for (args, action) in [
        (
            vec![
                "secretsmanager",
                "batch-get-secret-value",
                "--secret-id-list=[\"S\"]",
            ],
            "secretsmanager:BatchGetSecretValue",
        ),
        (
            vec!["secretsmanager", "delete-secret", "--secret-id=S"],
            "secretsmanager:DeleteSecret",
        ),
        (
            vec![
                "ssm",
                "get-parameters-by-path",
                "--path=/p",
                "--recursive",
                "--with-decryption",
            ],
            "ssm:GetParametersByPath",
        ),
    ] {
        let err = reader.fails(&args, 255);
        assert!(
            err.contains("An error occurred (403) when calling the ")
                && err.contains("<Code>AccessDenied</Code>")
                && err.contains(&format!(
                    "User: arn:aws:iam::123456789012:user/reader is not authorized to perform: \
                     {action}"
                )),
            "{args:?}: {err}"
        );
    }
}
