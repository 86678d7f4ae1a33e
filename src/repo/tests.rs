use super::*;
use std::collections::HashMap;
use std::fs;

fn vars_from(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

// --- sanitize -------------------------------------------------------------------------

#[test]
fn sanitize_keeps_the_allowed_characters() {
    assert_eq!(sanitize("My_repo-1.2").as_deref(), Some("My_repo-1.2"));
}

#[test]
fn sanitize_drops_every_other_character() {
    assert_eq!(sanitize(" my repo/ü*x ").as_deref(), Some("myrepox"));
    assert_eq!(sanitize("a\tb\nc").as_deref(), Some("abc"));
}

#[test]
fn sanitize_of_nothing_usable_is_none() {
    assert_eq!(sanitize(""), None);
    assert_eq!(sanitize("@/ !"), None);
    assert_eq!(sanitize("ünïcødé"), Some("ncd".to_owned()));
}

#[test]
fn sanitize_refuses_names_made_only_of_dots() {
    assert_eq!(sanitize("."), None);
    assert_eq!(sanitize(".."), None);
    assert_eq!(sanitize("..."), None);
    assert_eq!(sanitize("/../"), None);
    assert_eq!(sanitize(".hidden").as_deref(), Some(".hidden"));
    assert_eq!(sanitize("..a").as_deref(), Some("..a"));
}

// --- pick_repo_name -------------------------------------------------------------------

#[test]
fn the_first_usable_candidate_wins() {
    let c = [
        some("flag"),
        some("env"),
        some("pkg"),
        some("root"),
        some("cwd"),
    ];
    assert_eq!(pick_repo_name(&c), "flag");
}

#[test]
fn missing_and_empty_candidates_fall_through() {
    let c = [
        None,
        some(""),
        some("  "),
        some("..."),
        some("root"),
        some("cwd"),
    ];
    assert_eq!(pick_repo_name(&c), "root");
}

#[test]
fn the_chosen_candidate_is_sanitised() {
    assert_eq!(pick_repo_name(&[some("my repo!")]), "myrepo");
}

#[test]
fn no_usable_candidate_gives_default() {
    assert_eq!(pick_repo_name(&[None, some("/"), some("..")]), "default");
    assert_eq!(pick_repo_name(&[]), "default");
}

// --- package.json ---------------------------------------------------------------------

#[test]
fn an_unscoped_package_name_is_used_as_is() {
    assert_eq!(
        package_name_from_json(r#"{"name":"foo"}"#).as_deref(),
        Some("foo")
    );
}

#[test]
fn an_npm_scope_is_removed() {
    assert_eq!(
        package_name_from_json(r#"{"name":"@muthuishere/vsync","version":"1"}"#).as_deref(),
        Some("vsync")
    );
    assert_eq!(strip_npm_scope("@scope/foo"), "foo");
    assert_eq!(strip_npm_scope("foo"), "foo");
}

#[test]
fn an_unusable_package_json_gives_no_candidate() {
    assert_eq!(package_name_from_json("{not json"), None);
    assert_eq!(package_name_from_json("[]"), None);
    assert_eq!(package_name_from_json(r#"{"version":"1"}"#), None);
    assert_eq!(package_name_from_json(r#"{"name":42}"#), None);
}

// --- config path ----------------------------------------------------------------------

#[test]
fn config_path_uses_home_dot_config_by_default() {
    let vars = vars_from(&[("HOME", "/home/u")]);
    assert_eq!(
        config_path("app", "dev", &vars).unwrap(),
        PathBuf::from("/home/u/.config/vsync/app/env_dev")
    );
}

#[test]
fn config_path_prefers_an_absolute_xdg_config_home() {
    let vars = vars_from(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/xdg")]);
    assert_eq!(
        config_path("app", "dev", &vars).unwrap(),
        PathBuf::from("/xdg/vsync/app/env_dev")
    );
}

#[test]
fn an_empty_or_relative_xdg_config_home_is_ignored() {
    for xdg in ["", "relative/dir"] {
        let vars = vars_from(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", xdg)]);
        assert_eq!(
            config_path("app", "dev", &vars).unwrap(),
            PathBuf::from("/home/u/.config/vsync/app/env_dev"),
            "XDG_CONFIG_HOME={xdg:?}"
        );
    }
}

#[test]
fn xdg_config_home_works_without_home() {
    let vars = vars_from(&[("XDG_CONFIG_HOME", "/xdg")]);
    assert!(config_path("app", "dev", &vars).is_ok());
}

#[test]
fn config_path_lowercases_the_env() {
    let vars = vars_from(&[("HOME", "/h")]);
    assert_eq!(
        config_path("app", "Prod", &vars).unwrap(),
        PathBuf::from("/h/.config/vsync/app/env_prod")
    );
}

#[test]
fn missing_home_and_xdg_is_an_error_that_says_what_to_set() {
    for vars in [vars_from(&[]), vars_from(&[("HOME", "")])] {
        let err = config_path("app", "dev", &vars).unwrap_err().to_string();
        assert_eq!(
            err,
            "HOME is not set; cannot locate the vsync config directory \
             (set HOME or XDG_CONFIG_HOME)"
        );
    }
}

#[test]
fn a_relative_home_is_an_error() {
    let vars = vars_from(&[("HOME", "home")]);
    let err = config_path("app", "dev", &vars).unwrap_err().to_string();
    assert!(err.contains("HOME is not an absolute path"), "{err}");
}

// --- env file path --------------------------------------------------------------------

#[test]
fn env_file_defaults_to_infra_vault_lowercased_env_with_env_as_typed() {
    assert_eq!(
        env_file_path(Path::new("/r"), None, "Dev").unwrap(),
        PathBuf::from("/r/infra/vault/dev/.env.Dev")
    );
}

#[test]
fn env_file_uses_a_custom_vault_folder() {
    assert_eq!(
        env_file_path(Path::new("/r"), Some("apps/api/vault"), "dev").unwrap(),
        PathBuf::from("/r/apps/api/vault/.env.dev")
    );
}

#[test]
fn an_empty_vault_folder_means_the_default() {
    assert_eq!(
        env_file_path(Path::new("/r"), Some(""), "dev").unwrap(),
        PathBuf::from("/r/infra/vault/dev/.env.dev")
    );
}

#[test]
fn an_absolute_vault_folder_stays_inside_the_root() {
    assert_eq!(
        env_file_path(Path::new("/r"), Some("/secrets"), "dev").unwrap(),
        PathBuf::from("/r/secrets/.env.dev")
    );
    assert_eq!(
        env_file_path(Path::new("/r"), Some("/"), "dev").unwrap(),
        PathBuf::from("/r/.env.dev")
    );
}

#[test]
fn a_vault_folder_climbing_out_of_the_root_is_refused() {
    for folder in ["..", "../../etc", "a/../../b", "/../x", "./.."] {
        let err = env_file_path(Path::new("/r"), Some(folder), "dev").unwrap_err();
        assert!(
            err.contains("points outside the repository /r"),
            "{folder}: {err}"
        );
    }
    assert_eq!(
        env_file_path(Path::new("/r"), Some("a/../b"), "dev").unwrap(),
        PathBuf::from("/r/a/../b/.env.dev")
    );
}

#[test]
fn a_vault_folder_that_is_a_symlink_out_of_the_root_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    fs::create_dir_all(root.join("inside")).unwrap();
    fs::create_dir_all(tmp.path().join("outside")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("outside"), root.join("out")).unwrap();
    std::os::unix::fs::symlink("inside", root.join("in")).unwrap();
    let err = env_file_path(&root, Some("out"), "dev").unwrap_err();
    assert!(err.contains("leads outside the repository"), "{err}");
    assert_eq!(
        env_file_path(&root, Some("in"), "dev").unwrap(),
        root.join("in/.env.dev")
    );
}

// --- home -----------------------------------------------------------------------------

#[test]
fn home_is_the_variable_else_the_accounts_and_never_empty() {
    let account = || Some(PathBuf::from("/home/acct"));
    assert_eq!(
        home_dir(Some("/h".into()), account),
        Some(PathBuf::from("/h"))
    );
    assert_eq!(
        home_dir(Some("".into()), account),
        Some(PathBuf::from("/home/acct"))
    );
    assert_eq!(home_dir(None, account), Some(PathBuf::from("/home/acct")));
    assert_eq!(home_dir(None, || None), None);
    assert_eq!(home_dir(None, || Some(PathBuf::new())), None);
}

#[test]
fn the_account_home_is_found() {
    assert!(account_home().is_some_and(|h| h.is_absolute()));
}

// --- env name -------------------------------------------------------------------------

#[test]
fn env_names_that_would_change_directories_are_refused() {
    for bad in ["", "a/b", "..", ".", "../x", "a\0b"] {
        assert!(check_env_name(bad).is_err(), "{bad:?}");
    }
    for good in ["dev", "Prod", "staging-eu.1", ".x"] {
        assert!(check_env_name(good).is_ok(), "{good:?}");
    }
}

// --- filesystem: root and layout ------------------------------------------------------

#[test]
fn root_is_the_nearest_ancestor_with_a_git_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let deep = repo.join("a/b");
    fs::create_dir_all(&deep).unwrap();
    fs::create_dir(repo.join(".git")).unwrap();
    assert_eq!(find_root(&deep), repo);
    assert_eq!(find_root(&repo), repo);
}

#[test]
fn a_git_file_marks_a_root_too() {
    let tmp = tempfile::tempdir().unwrap();
    let outer = tmp.path().join("outer");
    let worktree = outer.join("wt");
    let deep = worktree.join("src");
    fs::create_dir_all(&deep).unwrap();
    fs::create_dir(outer.join(".git")).unwrap();
    fs::write(worktree.join(".git"), "gitdir: ../.git/worktrees/wt\n").unwrap();
    assert_eq!(find_root(&deep), worktree);
}

#[test]
fn without_git_the_root_is_the_cwd() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plain");
    fs::create_dir(&dir).unwrap();
    // The temp dir itself might live inside some checkout; only assert when it does not.
    if tmp.path().ancestors().all(|a| !a.join(".git").exists()) {
        assert_eq!(find_root(&dir), dir);
    }
}

/// A temp tree `<tmp>/<name>` with a `.git` directory, so the root is known.
fn git_repo(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join(name);
    fs::create_dir_all(root.join(".git")).unwrap();
    (tmp, root)
}

#[test]
fn layout_prefers_the_flag_over_everything() {
    let (_tmp, root) = git_repo("rootname");
    fs::write(root.join("package.json"), r#"{"name":"pkg"}"#).unwrap();
    let vars = vars_from(&[("HOME", "/h"), ("SECRETS_SYNC_REPO", "fromenv")]);
    let l = layout(&root, Some("flag/name"), "Dev", &vars).unwrap();
    assert_eq!(l.repo_name, "flagname");
    assert_eq!(l.root, root);
    assert_eq!(
        l.config_path,
        PathBuf::from("/h/.config/vsync/flagname/env_dev")
    );
}

#[test]
fn layout_uses_secrets_sync_repo_when_the_flag_is_empty() {
    let (_tmp, root) = git_repo("rootname");
    fs::write(root.join("package.json"), r#"{"name":"pkg"}"#).unwrap();
    let vars = vars_from(&[("HOME", "/h"), ("SECRETS_SYNC_REPO", "fromenv")]);
    let l = layout(&root, Some(""), "dev", &vars).unwrap();
    assert_eq!(l.repo_name, "fromenv");
}

#[test]
fn layout_uses_the_scoped_package_name_from_the_root() {
    let (_tmp, root) = git_repo("rootname");
    let sub = root.join("sub");
    fs::create_dir(&sub).unwrap();
    fs::write(root.join("package.json"), r#"{"name":"@acme/web"}"#).unwrap();
    // A package.json in the cwd (not the root) is not consulted.
    fs::write(sub.join("package.json"), r#"{"name":"nested"}"#).unwrap();
    let vars = vars_from(&[("HOME", "/h"), ("SECRETS_SYNC_REPO", "")]);
    let l = layout(&sub, None, "dev", &vars).unwrap();
    assert_eq!(l.repo_name, "web");
    assert_eq!(l.root, root);
}

#[test]
fn layout_skips_an_invalid_package_json() {
    let (_tmp, root) = git_repo("rootname");
    fs::write(root.join("package.json"), "{ oops").unwrap();
    let vars = vars_from(&[("HOME", "/h")]);
    assert_eq!(
        layout(&root, None, "dev", &vars).unwrap().repo_name,
        "rootname"
    );
}

#[test]
fn layout_falls_back_to_the_root_basename_then_the_cwd_basename() {
    let (_tmp, root) = git_repo("my repo!");
    let vars = vars_from(&[("HOME", "/h")]);
    assert_eq!(
        layout(&root, None, "dev", &vars).unwrap().repo_name,
        "myrepo"
    );

    // Root basename sanitises to nothing: the cwd basename is next.
    let (_tmp2, root2) = git_repo("@@@");
    let cwd = root2.join("inner");
    fs::create_dir(&cwd).unwrap();
    assert_eq!(layout(&cwd, None, "dev", &vars).unwrap().repo_name, "inner");
}

#[test]
fn layout_falls_back_to_default() {
    let (_tmp, root) = git_repo("...");
    let vars = vars_from(&[("HOME", "/h")]);
    assert_eq!(
        layout(&root, None, "dev", &vars).unwrap().repo_name,
        "default"
    );
}

#[test]
fn layout_reports_a_missing_home() {
    let (_tmp, root) = git_repo("r");
    let err = layout(&root, None, "dev", &vars_from(&[])).unwrap_err();
    assert!(err.to_string().starts_with("HOME is not set"), "{err}");
}

#[test]
fn layout_refuses_an_env_with_a_slash() {
    let (_tmp, root) = git_repo("r");
    let err = layout(&root, None, "../x", &vars_from(&[("HOME", "/h")])).unwrap_err();
    assert!(
        err.to_string().contains("invalid environment name"),
        "{err}"
    );
}
