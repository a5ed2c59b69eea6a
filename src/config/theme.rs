//! The theme settings: `theme = "dark" | "light" | "auto"`, or a `[theme]` table with a
//! `base` and colours by role (`user = "#005f87"`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use ratatui::style::Color;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Which palette: dark or light, or `auto` (ask the terminal for its background; dark when
/// it does not say).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    Dark,
    Light,
    #[default]
    Auto,
}

impl FromStr for ThemeChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dark" => Ok(ThemeChoice::Dark),
            "light" => Ok(ThemeChoice::Light),
            "auto" => Ok(ThemeChoice::Auto),
            other => Err(format!(
                "unknown theme `{other}` (one of: dark, light, auto)"
            )),
        }
    }
}

impl fmt::Display for ThemeChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ThemeChoice::Dark => "dark",
            ThemeChoice::Light => "light",
            ThemeChoice::Auto => "auto",
        })
    }
}

/// What a colour in the `[theme]` table paints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    User,
    Assistant,
    System,
    Summary,
    Heading,
    Code,
    CodeBackground,
    Quote,
    Link,
    Dim,
    Error,
    Warning,
    Ok,
    Accent,
    Border,
    BorderFocused,
    Selection,
}

impl Role {
    pub const ALL: &[Role] = &[
        Role::User,
        Role::Assistant,
        Role::System,
        Role::Summary,
        Role::Heading,
        Role::Code,
        Role::CodeBackground,
        Role::Quote,
        Role::Link,
        Role::Dim,
        Role::Error,
        Role::Warning,
        Role::Ok,
        Role::Accent,
        Role::Border,
        Role::BorderFocused,
        Role::Selection,
    ];

    /// The key in the `[theme]` table.
    pub fn name(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
            Role::Summary => "summary",
            Role::Heading => "heading",
            Role::Code => "code",
            Role::CodeBackground => "code_background",
            Role::Quote => "quote",
            Role::Link => "link",
            Role::Dim => "dim",
            Role::Error => "error",
            Role::Warning => "warning",
            Role::Ok => "ok",
            Role::Accent => "accent",
            Role::Border => "border",
            Role::BorderFocused => "border_focused",
            Role::Selection => "selection",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        let n = name.trim().to_ascii_lowercase().replace('-', "_");
        Role::ALL.iter().copied().find(|r| r.name() == n)
    }
}

/// The config's `theme`: the base palette and colours by role over it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThemeConfig {
    pub base: Option<ThemeChoice>,
    pub colors: BTreeMap<Role, Color>,
}

/// Parse a colour as written in the config: a name (`red`, `lightblue`, `darkgray`,
/// `reset`), `#rrggbb`, or a palette index 0–255.
pub fn parse_color(s: &str) -> Result<Color, String> {
    let t = s.trim();
    if matches!(t.to_ascii_lowercase().as_str(), "default" | "none") {
        return Ok(Color::Reset);
    }
    Color::from_str(t).map_err(|_| {
        format!(
            "`{s}` is not a colour: use a name (red, lightblue, darkgray, reset…), #rrggbb or a palette index 0-255"
        )
    })
}

/// A colour value of the `[theme]` table.
struct ColorSpec(Color);

impl<'de> Deserialize<'de> for ColorSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_color(&s).map(ColorSpec).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for ThemeConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ThemeConfig;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"dark\", \"light\", \"auto\", or a [theme] table of colours by role")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ThemeConfig, E> {
                Ok(ThemeConfig {
                    base: Some(v.parse().map_err(E::custom)?),
                    colors: BTreeMap::new(),
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ThemeConfig, A::Error> {
                let mut cfg = ThemeConfig::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "base" {
                        let v: String = map.next_value()?;
                        cfg.base = Some(v.parse().map_err(de::Error::custom)?);
                        continue;
                    }
                    let Some(role) = Role::from_name(&key) else {
                        return Err(de::Error::custom(format!(
                            "unknown theme role `{key}` (base, or one of: {})",
                            Role::ALL
                                .iter()
                                .map(|r| r.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    };
                    let ColorSpec(c) = map.next_value()?;
                    cfg.colors.insert(role, c);
                }
                Ok(cfg)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_by_name_hex_and_index() {
        assert_eq!(parse_color("light-blue"), Ok(Color::LightBlue));
        assert_eq!(parse_color("#005f87"), Ok(Color::Rgb(0, 0x5f, 0x87)));
        assert_eq!(parse_color("208"), Ok(Color::Indexed(208)));
        assert_eq!(parse_color("default"), Ok(Color::Reset));
        assert!(parse_color("#12345").unwrap_err().contains("#rrggbb"));
    }

    #[test]
    fn a_name_or_a_table() {
        #[derive(Deserialize)]
        struct F {
            theme: ThemeConfig,
        }
        let f: F = toml::from_str("theme = \"light\"").unwrap();
        assert_eq!(f.theme.base, Some(ThemeChoice::Light));
        let f: F = toml::from_str(
            "[theme]\nbase = \"dark\"\nuser = \"#ff0000\"\nborder-focused = \"blue\"\n",
        )
        .unwrap();
        assert_eq!(f.theme.base, Some(ThemeChoice::Dark));
        assert_eq!(f.theme.colors[&Role::User], Color::Rgb(255, 0, 0));
        assert_eq!(f.theme.colors[&Role::BorderFocused], Color::Blue);
        let e = toml::from_str::<F>("[theme]\nusr = \"red\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown theme role `usr`"), "{e}");
        let e = toml::from_str::<F>("[theme]\nuser = \"reddish\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`reddish` is not a colour"), "{e}");
        // Through the config file's parser: the file and the line.
        let path = std::path::Path::new("c.toml");
        let e = crate::config::parse_file(path, "model = \"m\"\n[theme]\nuser = \"reddish\"\n")
            .unwrap_err()
            .0;
        assert!(e.starts_with("c.toml:3:") && e.contains("`reddish`"), "{e}");
        let e = crate::config::parse_file(path, "model = \"m\"\n[theme]\nusr = \"red\"\n")
            .unwrap_err()
            .0;
        assert!(e.starts_with("c.toml:") && e.contains("`usr`"), "{e}");
        let e = toml::from_str::<F>("theme = \"sepia\"")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("one of: dark, light, auto"), "{e}");
    }
}
