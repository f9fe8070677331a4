//! Value types and parsers shared by the subcommands: provider names and durations.

use std::time::Duration;

use partner_auth::Provider;

/// The five providers, as the command line and the JSON outputs name them (a plain
/// `enum` of names in the JSON Schema: the variants carry no doc comments).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[schemars(inline)]
pub enum ProviderName {
    #[value(help = "Teez Seller API")]
    Teez,
    #[value(help = "Alternative Payments")]
    AlternativePayments,
    #[value(help = "Cobee Partners API")]
    Cobee,
    #[value(help = "Tradevest B2B")]
    Tradevest,
    #[value(help = "Dinie")]
    Dinie,
    #[value(help = "any RFC 6749 token endpoint: --base-url is its token URL")]
    Standard,
}

impl ProviderName {
    /// The library's provider.
    pub fn provider(self) -> Provider {
        match self {
            ProviderName::Teez => Provider::Teez,
            ProviderName::AlternativePayments => Provider::AlternativePayments,
            ProviderName::Cobee => Provider::Cobee,
            ProviderName::Tradevest => Provider::Tradevest,
            ProviderName::Dinie => Provider::Dinie,
            ProviderName::Standard => Provider::Standard,
        }
    }

    /// The name of the library's `provider`; `None` for a provider this CLI does not know.
    pub fn of(provider: Provider) -> Option<Self> {
        use clap::ValueEnum as _;
        Self::value_variants()
            .iter()
            .copied()
            .find(|name| name.provider() == provider)
    }
}

/// `--provider`: a provider's name as the library reads it (`Provider::from_str`: any
/// case, surrounding space trimmed, `-` and `_` alike), so `PARTNER_PROVIDER` takes what a
/// configuration file does; the names are listed for help and completions, and another
/// value gets clap's own error listing them.
#[derive(Clone, Copy, Debug)]
pub struct ProviderNameParser;

impl clap::builder::TypedValueParser for ProviderNameParser {
    type Value = ProviderName;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ProviderName, clap::Error> {
        let named = value
            .to_str()
            .and_then(|text| text.parse::<Provider>().ok())
            .and_then(ProviderName::of);
        match named {
            Some(name) => Ok(name),
            None => {
                clap::builder::EnumValueParser::<ProviderName>::new().parse_ref(command, arg, value)
            }
        }
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        use clap::ValueEnum as _;
        Some(Box::new(
            ProviderName::value_variants()
                .iter()
                .filter_map(ProviderName::to_possible_value),
        ))
    }
}

/// Every environment name of any provider, each once, in provider order.
pub fn environment_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    for &provider in Provider::ALL {
        for env in provider.environments() {
            if !names.contains(&env.name) {
                names.push(env.name);
            }
        }
    }
    names
}

/// `--env`'s parser: any name, checked against the provider's environments once it is
/// known to be where the request goes (a `--base-url` flag beats `PARTNER_ENV`, whatever
/// the variable says); the names are listed for help and completions.
#[derive(Clone, Copy, Debug)]
pub struct EnvironmentName;

impl clap::builder::TypedValueParser for EnvironmentName {
    type Value = String;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(command, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            environment_names()
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

/// `--env`'s long help: which provider has which environment.
pub fn environment_help() -> String {
    let mut help = String::from(
        "A named environment of the provider (default: production). Each provider has:",
    );
    for &provider in Provider::ALL {
        let names: Vec<&str> = provider.environments().iter().map(|e| e.name).collect();
        help.push_str(&format!("\n  {:<21} {}", provider.name(), names.join(", ")));
    }
    help
}

/// `NAME=VALUE`, split at the first `=` (a value may hold more); the name must not be empty.
pub fn name_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err("expected NAME=VALUE, such as audience=https://api.example.com".into()),
    }
}

/// The longest `--timeout`: a token request that has not ended within an hour has failed.
const MAX_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// A timeout of `500ms`, `10s`, `2m`, `1h`, or a bare number of seconds; more than zero,
/// at most an hour.
pub fn timeout(text: &str) -> Result<Duration, String> {
    let duration = duration(text)?;
    if duration.is_zero() {
        return Err("must be more than zero (a zero timeout would fail every request)".into());
    }
    if duration > MAX_TIMEOUT {
        return Err("must be at most 1h (a token request that takes longer has failed)".into());
    }
    Ok(duration)
}

/// A `--port` for the sandbox: 1 up to `highest`.
pub fn port(text: &str, highest: u16) -> Result<u16, String> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('-') {
        return Err(dashed(rest, &format!("a port in 1..={highest}")));
    }
    match text.parse::<u16>() {
        Ok(port) if (1..=highest).contains(&port) => Ok(port),
        _ => Err(format!("not in 1..={highest}")),
    }
}

/// A token lifetime: at least one second, as providers report lifetimes in whole seconds,
/// and at most the sandbox's longest, 365 days.
pub fn token_lifetime(text: &str) -> Result<Duration, String> {
    let duration = duration(text)?;
    if duration < Duration::from_secs(1) {
        return Err(
            "must be at least 1s (providers report lifetimes in whole seconds; zero means none)"
                .into(),
        );
    }
    if duration > partner_sandbox::MAX_TOKEN_LIFETIME {
        return Err(
            "must be at most 365d, the longest partner-auth keeps a token (1y is 365.25 days)"
                .into(),
        );
    }
    Ok(duration)
}

/// Why a value that starts with `-` (taken so that `-1` is named negative) is refused: a
/// negative number is named so; anything else is a flag whose option was given no value,
/// or a stray value (which `main` does not echo: it may be the secret).
fn dashed(rest: &str, expected: &str) -> String {
    if rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        format!("must not be negative: {expected}")
    } else {
        format!("starts with `-`, a flag rather than a value: {expected} goes here")
    }
}

fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('-') {
        return Err(dashed(rest, "a duration such as 10s"));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| "too large a number of seconds".into());
    }
    // humantime's message is left out: it repeats a piece of the value, which may be a
    // secret pasted here (main shows the value only where it looks like a typo).
    humantime::parse_duration(text).map_err(|_| {
        "not a duration such as 10s: expected e.g. 500ms, 10s, 2m, 1h, or seconds as a number"
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_provider_has_a_name_here() {
        for provider in Provider::ALL.iter().copied().chain([Provider::Standard]) {
            let name = ProviderName::of(provider).expect("named");
            assert_eq!(name.provider(), provider);
            let value = clap::ValueEnum::to_possible_value(&name).unwrap();
            assert_eq!(value.get_name(), provider.name());
        }
    }

    #[test]
    fn durations_take_units_or_seconds_and_refuse_zero_and_the_absurd() {
        assert_eq!(timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(timeout("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(timeout("10"), Ok(Duration::from_secs(10)));
        assert_eq!(timeout("1h"), Ok(Duration::from_secs(3600)));
        for refused in [
            "0",
            "0s",
            "ten",
            "99999999999999999999999",
            "3601",
            "1d",
            "25h",
        ] {
            assert!(timeout(refused).is_err(), "{refused}");
        }
        assert!(token_lifetime("500ms").is_err());
        assert_eq!(token_lifetime("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(
            token_lifetime("365d"),
            Ok(partner_sandbox::MAX_TOKEN_LIFETIME)
        );
        assert!(token_lifetime("1y").is_err());
        assert!(token_lifetime("2y").is_err());
    }
}
