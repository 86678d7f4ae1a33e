//! `--dry-run`: what a run would do, without doing it. Pure; values are never shown, only
//! where each came from and its size. A key the target stores under another name shows
//! `KEY → NAME`.

use crate::targets::{Op, PerKey, Target, VendorCmd, Writes};
use crate::task::{SecretTask, Source};

pub fn render(target: &dyn Target, tasks: &[SecretTask]) -> Vec<String> {
    let mut lines = vec![
        String::new(),
        "Dry run: no vendor CLI was run and nothing was saved. Planned calls (each value goes on stdin):".to_string(),
    ];
    let key_line = |t: &SecretTask| {
        let source = match &t.source {
            Source::Literal => "literal".to_string(),
            Source::File(file) => format!("file {}", file.path.display()),
        };
        // A prefix leaves the key readable at the end of the name (and the command shows
        // it); a name that no longer ends with the key is a rename the user must see.
        let name = target.secret_name(&t.key);
        let shown = crate::term::shown_key(&t.key);
        let key = if name.ends_with(t.key.as_str()) {
            shown.into_owned()
        } else {
            format!("{shown} → {}", crate::term::shown_key(&name))
        };
        format!("  {key}  {source}  {} bytes", t.value.len())
    };
    match target.writes() {
        Writes::Bulk(bulk) => {
            for t in tasks {
                lines.push(key_line(t));
            }
            let doc = bulk.document(tasks);
            lines.push(format!(
                "  one write, a JSON object of {} keys ({} bytes) on stdin:",
                tasks.len(),
                doc.len()
            ));
            lines.push(format!("    {}", bulk.write_cmd().display()));
        }
        Writes::PerKey(per_key) => {
            if let Some(list) = per_key.list_cmd() {
                lines.push(format!(
                    "  once, to learn which secrets exist: {}",
                    list.display()
                ));
            }
            if let Some(mark) = per_key.mark_cmd("KEY").filter(|_| per_key.marks()) {
                lines.push(format!(
                    "  after writing an existing secret without vsync's ownership marks: {}",
                    mark.display()
                ));
            }
            for t in tasks {
                lines.push(key_line(t));
                let cmds = planned_cmds(per_key, &t.key);
                for (i, cmd) in cmds.iter().enumerate() {
                    let when = match (i, cmds.len()) {
                        (_, 1) => "",
                        (0, _) => "if it exists: ",
                        _ => "if it does not: ",
                    };
                    lines.push(format!("    {when}{}", cmd.display()));
                }
            }
        }
    }
    lines
}

/// The commands a per-key push may run, for the dry-run plan.
fn planned_cmds(target: &dyn PerKey, key: &str) -> Vec<VendorCmd> {
    let first = target.update_op();
    let mut cmds = vec![target.push_cmd(key, first)];
    if first == Op::Update {
        cmds.push(target.push_cmd(key, Op::Create));
    }
    cmds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{
        aws::Aws,
        azure::{Azure, Names},
        gcp::Gcp,
        gh::Gh,
        vault::Vault,
    };
    use std::path::PathBuf;

    fn tasks() -> Vec<SecretTask> {
        vec![
            SecretTask {
                key: "API".into(),
                value: b"s3cr3t-value".to_vec(),
                source: Source::Literal,
                line: 1,
            },
            SecretTask {
                key: "SSH".into(),
                value: vec![1, 2, 3],
                source: Source::file(PathBuf::from("/r/keys/id"), "SSH_PATH"),
                line: 2,
            },
        ]
    }

    #[test]
    fn the_gh_plan_names_each_key_its_source_size_and_command_but_no_value() {
        let r = Gh {
            repo: "o/r".into(),
            env: "dev".into(),
        };
        let text = render(&r, &tasks()).join("\n");
        assert!(
            text.contains(
                "  API  literal  12 bytes\n    gh secret set --env=dev --repo=o/r -- API"
            ),
            "{text}"
        );
        assert!(text.contains("  SSH  file /r/keys/id  3 bytes"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn the_gcp_plan_shows_the_list_call_and_both_writes() {
        let r = Gcp {
            project: "p".into(),
            locations: None,
            repo: "r".into(),
            env: "dev".into(),
            owner_known: true,
        };
        let text = render(&r, &tasks()).join("\n");
        assert!(text.contains("once, to learn which secrets exist: gcloud secrets list --project=p '--format=json(name,labels)'"), "{text}");
        assert!(text.contains("after writing an existing secret without vsync's ownership marks: gcloud secrets update --update-labels=managed-by=vsync,vsync-repo=r,vsync-env=dev --project=p -- KEY"), "{text}");
        assert!(
            text.contains(
                "if it exists: gcloud secrets versions add --data-file=- --project=p -- API"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "if it does not: gcloud secrets create --replication-policy=automatic --data-file=- --labels=managed-by=vsync,vsync-repo=r,vsync-env=dev --project=p -- API"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_vault_plan_is_one_write() {
        let r = Vault {
            addr: "http://v:8200".into(),
            mount: "secret".into(),
            path: "app/dev".into(),
        };
        let text = render(&r, &tasks()).join("\n");
        assert!(
            text.contains("VAULT_ADDR=http://v:8200 vault kv put -mount=secret -- app/dev -"),
            "{text}"
        );
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn a_mapped_name_is_shown_beside_its_key_but_a_prefix_is_not() {
        let mapped = Azure {
            vault_name: "kv".into(),
            names: Names::Dashes,
            repo: "api".into(),
            env: "dev".into(),
            owner_known: true,
        };
        let mut t = tasks();
        t[0].key = "DB_URL".into();
        let text = render(&mapped, &t).join("\n");
        assert!(
            text.contains(
                "  DB_URL → DB-URL  literal  12 bytes\n    az keyvault secret set \
                 --vault-name=kv --name=DB-URL --file /dev/stdin --tags managed-by=vsync \
                 vsync-repo=api vsync-env=dev -o none"
            ),
            "{text}"
        );
        assert!(text.contains("  SSH  file /r/keys/id  3 bytes"), "{text}");
        let prefixed = Aws {
            region: "r".into(),
            prefix: Some("app/".into()),
            repo: "api".into(),
            env: "dev".into(),
            owner_known: true,
            kms_key: None,
        };
        let text = render(&prefixed, &t).join("\n");
        assert!(text.contains("  DB_URL  literal  12 bytes"), "{text}");
        assert!(!text.contains('→'), "{text}");
    }
}
