//! The merge's precedence, its error messages and the key sources.

use std::path::{Path, PathBuf};

use super::*;

fn settings(text: &str, env: Env, flags: Overrides) -> Result<Settings, ConfigError> {
    let p = PathBuf::from("/tmp/chat-tui-test.toml");
    let f = parse_file(&p, text)?;
    merge(Some(p), f, &env, &flags, Vec::new())
}

#[test]
fn example_config_parses() {
    let f = parse_file(Path::new("config.example.toml"), EXAMPLE_CONFIG).unwrap();
    assert!(f.profiles.contains_key("ollama"));
}

#[test]
fn order_is_defaults_file_env_flags() {
    let text = "model = \"from-file\"\nbase_url = \"http://file:1/v1\"\n[params]\ntemperature = 0.1\nmax_tokens = 50\n";
    let s = settings(text, Env::default(), Overrides::default()).unwrap();
    assert_eq!(s.model, "from-file");
    assert_eq!(s.base_url, "http://file:1/v1");
    let env = Env {
        base_url: Some("http://env:2/v1".into()),
        model: Some("from-env".into()),
        ..Env::default()
    };
    let s = settings(text, env.clone(), Overrides::default()).unwrap();
    assert_eq!(
        (s.model.as_str(), s.base_url.as_str()),
        ("from-env", "http://env:2/v1")
    );
    let mut flags = Overrides {
        model: Some("from-flag".into()),
        base_url: Some("http://flag:3/v1".into()),
        ..Overrides::default()
    };
    flags.params.temperature = Some(0.9);
    let s = settings(text, env, flags).unwrap();
    assert_eq!(
        (s.model.as_str(), s.base_url.as_str()),
        ("from-flag", "http://flag:3/v1")
    );
    assert_eq!(s.params.temperature, Some(0.9));
    assert_eq!(s.params.max_tokens, Some(50));
    let s = settings("", Env::default(), Overrides::default()).unwrap();
    assert_eq!(s.base_url, DEFAULT_BASE_URL);
    assert!(!s.base_url_configured);
}

#[test]
fn errors_name_file_line_and_key() {
    let e = settings(
        "model = \"x\"\n\n[params]\ntemprature = 0.5\n",
        Env::default(),
        Overrides::default(),
    )
    .unwrap_err()
    .0;
    assert!(e.contains("/tmp/chat-tui-test.toml:4:"), "{e}");
    assert!(e.contains("temprature"), "{e}");
    let e = settings("nonsense = 1\n", Env::default(), Overrides::default())
        .unwrap_err()
        .0;
    assert!(e.contains(":1:") && e.contains("nonsense"), "{e}");
    let e = settings("model = \n", Env::default(), Overrides::default())
        .unwrap_err()
        .0;
    assert!(e.contains(":1:"), "{e}");
    let e = settings(
        "[params]\ntemperature = 5.0\n",
        Env::default(),
        Overrides::default(),
    )
    .unwrap_err()
    .0;
    assert!(e.contains("temperature must be between 0 and 2"), "{e}");
}

#[test]
fn profiles_choose_server_and_key() {
    let text = r#"
api_key = "sk-top-NOT-REAL"
[profiles.ollama]
base_url = "http://127.0.0.1:11434/v1"
model = "llama3.2"
[profiles.other]
base_url = "https://other.example/v1"
api_key_env = "OTHER_KEY"
"#;
    let mut env = Env {
        api_key: Some("sk-env-NOT-REAL".into()),
        ..Env::default()
    };
    env.lookup
        .insert("OTHER_KEY".into(), "sk-other-NOT-REAL".into());
    let s = settings(text, env.clone(), Overrides::default()).unwrap();
    assert_eq!(s.key_source, KeySource::Env("OPENAI_API_KEY".into()));
    let flags = Overrides {
        profile: Some("ollama".into()),
        ..Overrides::default()
    };
    let mut s = settings(text, env.clone(), flags).unwrap();
    assert_eq!(s.model, "llama3.2");
    assert_eq!(s.base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(
        s.resolve_key().unwrap(),
        None,
        "the OpenAI key must not go to another server"
    );
    assert_eq!(s.endpoint_name(), "ollama");
    let flags = Overrides {
        profile: Some("other".into()),
        ..Overrides::default()
    };
    let mut s = settings(text, env.clone(), flags).unwrap();
    assert_eq!(
        s.resolve_key().unwrap().unwrap().expose(),
        "sk-other-NOT-REAL"
    );
    let flags = Overrides {
        profile: Some("missing".into()),
        ..Overrides::default()
    };
    let e = settings(text, env, flags).unwrap_err().0;
    assert!(
        e.contains("unknown profile `missing`") && e.contains("ollama, other"),
        "{e}"
    );
}

#[test]
fn key_command_output_is_the_key_and_failures_are_clear() {
    let mut s = settings(
        "api_key_cmd = \"printf 'sk-cmd-NOT-REAL\\\\n'\"\n",
        Env::default(),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        s.resolve_key().unwrap().unwrap().expose(),
        "sk-cmd-NOT-REAL"
    );
    let e = run_key_command("exit 3").unwrap_err().0;
    assert!(e.contains("failed"), "{e}");
    let e = run_key_command("true").unwrap_err().0;
    assert!(e.contains("printed no key"), "{e}");
}

#[test]
fn extra_fields_pass_through() {
    let s = settings(
        "[extra]\ntop_k = 40\nrepetition_penalty = 1.1\n",
        Env::default(),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.params.extra.get("top_k"), Some(&serde_json::json!(40)));
}

#[test]
fn host_of_strips_credentials_and_paths() {
    assert_eq!(
        host_of("https://user:pw@api.example.com:8443/v1?key=1"),
        "api.example.com:8443"
    );
    assert_eq!(host_of("http://127.0.0.1:8080/v1"), "127.0.0.1:8080");
}

#[test]
fn new_conversations_take_the_settings() {
    let s = settings(
        "model = \"m1\"\nmode = \"completion\"\nmemory = \"last 2\"\nsystem = \"Be brief.\"\n[params]\ntemperature = 0.3\n",
        Env::default(),
        Overrides::default(),
    )
    .unwrap();
    let c = s.new_conversation();
    assert_eq!(c.model, "m1");
    assert_eq!(c.mode, Mode::Completion);
    assert_eq!(c.memory, Memory::Last(2));
    assert_eq!(c.system.as_deref(), Some("Be brief."));
    assert_eq!(c.params, s.params);
    assert_eq!(c.endpoint.as_deref(), Some("api.openai.com"));
    assert!(c.messages.is_empty());
}

#[test]
fn keys_tables_per_pane_parse_and_problems_are_warnings() {
    let text = "[keys]\n\"ctrl-s\" = \"submit\"\n[keys.input]\nenter = \"newline\"\n[keys.nowhere]\nx = \"quit\"\n[keys.sessions]\n\"ctrl-x\" = \"explode\"\n";
    let s = settings(text, Env::default(), Overrides::default()).unwrap();
    assert!(matches!(
        s.keys.get("input"),
        Some(crate::keymap::KeyEntry::Context(t)) if t.get("enter").map(String::as_str) == Some("newline")
    ));
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("[keys.nowhere]"), "{:?}", s.warnings);
    assert!(
        s.warnings[1].contains("[keys.sessions] `ctrl-x` = `explode`: unknown action"),
        "{:?}",
        s.warnings
    );
    assert!(s.warnings[0].starts_with("/tmp/chat-tui-test.toml"));
}

#[test]
fn the_local_section_and_its_flags() {
    let text = "model = \"gpt-4o\"\n[local]\nmodel = \"~/m/tiny.gguf\"\ncontext_size = 2048\nthreads = 3\nport = 8099\n";
    let mut env = Env::default();
    env.lookup.insert("HOME".into(), "/home/u".into());
    let s = settings(text, env.clone(), Overrides::default()).unwrap();
    assert_eq!(s.local.model, Some(PathBuf::from("/home/u/m/tiny.gguf")));
    assert_eq!(
        (s.local.context_size, s.local.threads, s.local.port),
        (2048, 3, Some(8099))
    );
    assert!(!s.use_local);
    assert_eq!(s.model, "gpt-4o");
    // --local: the local model's name, the `local` endpoint; --local-model wins over the file.
    let flags = Overrides {
        local_model: Some("/x/other.gguf".into()),
        ..Overrides::default()
    };
    let s = settings(text, env.clone(), flags).unwrap();
    assert!(s.use_local);
    assert_eq!(s.local.model, Some(PathBuf::from("/x/other.gguf")));
    assert_eq!(s.model, "other");
    assert_eq!(s.endpoint_name(), "local");
    let flags = Overrides {
        local: true,
        ..Overrides::default()
    };
    let s = settings("", env.clone(), flags).unwrap();
    assert_eq!((s.model.as_str(), s.local.context_size), ("smollm2", 4096));
    // Out of range, or unknown: a clear error naming the key.
    let e = settings(
        "[local]\ncontext_size = 10\n",
        env.clone(),
        Overrides::default(),
    )
    .unwrap_err()
    .0;
    assert!(
        e.contains("[local] context_size must be between 256"),
        "{e}"
    );
    let e = settings("[local]\nthreads = 0\n", env.clone(), Overrides::default())
        .unwrap_err()
        .0;
    assert!(e.contains("[local] threads"), "{e}");
    let e = settings("[local]\nmodle = \"x\"\n", env, Overrides::default())
        .unwrap_err()
        .0;
    assert!(e.contains("modle"), "{e}");
}

#[test]
fn pointing_at_the_local_server_drops_the_key() {
    let env = Env {
        api_key: Some("sk-NOT-REAL".into()),
        ..Env::default()
    };
    let mut s = settings("", env, Overrides::default()).unwrap();
    assert!(s.has_key());
    s.point_at_local("http://127.0.0.1:4000/v1", "smollm2");
    assert!(!s.has_key());
    let cfg = s.client_config().unwrap();
    assert_eq!(cfg.api_key, None);
    assert_eq!(cfg.base_url, "http://127.0.0.1:4000/v1");
}

#[test]
fn every_profile_is_merged_for_compare_with_the_same_key_rules() {
    let p = PathBuf::from("/tmp/chat-tui-test.toml");
    let text = "model = \"top\"\n\
        [profiles.elsewhere]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"llama3\"\n\
        [profiles.same]\nmodel = \"gpt-4o\"\n\
        [profiles.broken]\napi_key_env = \"NOT_SET_ANYWHERE\"\n";
    let f = parse_file(&p, text).unwrap();
    let env = Env {
        api_key: Some("sk-test-NOT-A-REAL-KEY".into()),
        ..Env::default()
    };
    // Flags for this session (another base URL, model) do not leak into other profiles.
    let flags = Overrides {
        base_url: Some("http://flag:3/v1".into()),
        model: Some("flag-model".into()),
        ..Overrides::default()
    };
    let all = profiles(&Some(p), &f, &env, &flags);
    assert_eq!(
        all.keys().collect::<Vec<_>>(),
        ["broken", "elsewhere", "same"]
    );
    let elsewhere = all["elsewhere"].as_ref().unwrap();
    assert_eq!(elsewhere.base_url, "http://127.0.0.1:9/v1");
    assert_eq!(elsewhere.model, "llama3");
    assert!(!elsewhere.has_key(), "another server: no OpenAI key");
    let same = all["same"].as_ref().unwrap();
    assert_eq!(same.base_url, DEFAULT_BASE_URL);
    assert!(same.has_key(), "the same server keeps the key");
    let broken = all["broken"].as_ref().unwrap_err();
    assert!(broken.contains("NOT_SET_ANYWHERE"), "{broken}");
    assert!(!format!("{all:?}").contains("sk-test"), "no key in Debug");
}

#[test]
fn prices_override_and_extend_and_bad_ones_are_errors() {
    let s = settings(
        "[prices.\"gpt-4o\"]\ninput = 1.0\noutput = 2.0\n\n[prices.smollm2]\ninput = 0\ncached_input = 0\noutput = 0\n[params]\nlogprobs = 5\n",
        Env::default(),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.prices.get("gpt-4o").unwrap().input, 1.0);
    assert_eq!(s.prices.get("smollm2").unwrap().output, 0.0);
    assert_eq!(s.prices.get("gpt-4o-mini").unwrap().input, 0.15);
    assert_eq!(s.params.logprobs, Some(5));
    let e = settings(
        "[prices.x]\ninput = -1\noutput = 1\n",
        Env::default(),
        Overrides::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("[prices.\"x\"]"), "{e}");
    let e = settings(
        "[prices.x]\ninput = 1\noutput = 1\ncache = 1\n",
        Env::default(),
        Overrides::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("cache"), "{e}");
    let e = settings(
        "[params]\nlogprobs = 21\n",
        Env::default(),
        Overrides::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("logprobs"), "{e}");
}
