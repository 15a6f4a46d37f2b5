//! The canonical event model: every field a spec may name, its type and the event
//! categories it exists in. Backends map these names to native columns in `backends/*.yaml`.
//!
//! Naming follows who acts in the event:
//! - `network` / `file`: the process that opened the connection or touched the file is the
//!   *initiating* process (`initiating_*`), its parent is `initiating_parent_name`.
//! - `process`: the new process is `process_*`, the process that created it is `parent_*`.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Network,
    Process,
    File,
    Certificate,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Network,
        Category::Process,
        Category::File,
        Category::Certificate,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Category::Network => "network",
            Category::Process => "process",
            Category::File => "file",
            Category::Certificate => "certificate",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The value type of a field; decides which match kinds apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Free text: term, exact, contains, prefix, suffix.
    Text,
    /// A host name or URL: the text kinds and `domain` (which reads the value as a DNS name).
    Host,
    /// An IP address: ip, cidr (and exact text comparison is refused: use ip).
    Ip,
    /// A port number 1–65535: port.
    Port,
    /// A hex digest column of one algorithm; matched through the `*_hash` virtual field.
    Digest,
    /// Event time: output only, never matched.
    Time,
    /// An opaque id: output only (e.g. ReportId).
    Id,
    /// Virtual: `hash` values are routed to the md5/sha1/sha256 field by length.
    HashGroup {
        md5: &'static str,
        sha1: &'static str,
        sha256: &'static str,
    },
    /// Virtual: `ip_port` values become `remote_ip` and `remote_port`.
    Endpoint {
        ip: &'static str,
        port: &'static str,
    },
}

pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
    pub categories: &'static [Category],
    pub doc: &'static str,
}

use Category::{Certificate as C, File as F, Network as N, Process as P};

const ACTOR: &[Category] = &[N, F];
const ANY: &[Category] = &[N, P, F, C];

macro_rules! f {
    ($name:literal, $ty:expr, $cats:expr, $doc:literal) => {
        FieldDef {
            name: $name,
            ty: $ty,
            categories: $cats,
            doc: $doc,
        }
    };
}

use FieldType::{Digest, Host, Id, Ip, Port, Text, Time};

pub static FIELDS: &[FieldDef] = &[
    f!("timestamp", Time, ANY, "When the event happened."),
    f!(
        "report_id",
        Id,
        ANY,
        "Per-device event id (Defender ReportId)."
    ),
    f!("device_id", Text, ANY, "Id of the reporting device."),
    f!("device_name", Text, ANY, "Name of the reporting device."),
    f!(
        "action_type",
        Text,
        &[N, P, F],
        "What happened (e.g. ConnectionSuccess, allow)."
    ),
    f!(
        "activity",
        Text,
        &[N],
        "Appliance activity text (firewall logs)."
    ),
    f!(
        "account_name",
        Text,
        &[N, P, F],
        "Account the acting process runs as."
    ),
    f!(
        "account_upn",
        Text,
        &[N, P, F],
        "User principal name (UPN) of the account the acting process runs as."
    ),
    // network
    f!(
        "remote_domain",
        Host,
        &[N],
        "Host name or URL the connection went to."
    ),
    f!(
        "remote_ip",
        Ip,
        &[N],
        "Address of the other end of the connection."
    ),
    f!(
        "remote_port",
        Port,
        &[N],
        "Port of the other end of the connection."
    ),
    f!(
        "local_ip",
        Ip,
        &[N],
        "Address of this end of the connection."
    ),
    f!(
        "local_port",
        Port,
        &[N],
        "Port of this end of the connection."
    ),
    f!(
        "remote_endpoint",
        FieldType::Endpoint {
            ip: "remote_ip",
            port: "remote_port"
        },
        &[N],
        "Virtual: `ip_port` values match remote_ip and remote_port together."
    ),
    // the acting process in network and file events
    f!(
        "initiating_process_name",
        Text,
        ACTOR,
        "File name of the acting process."
    ),
    f!(
        "initiating_command_line",
        Text,
        ACTOR,
        "Command line of the acting process."
    ),
    f!(
        "initiating_folder_path",
        Text,
        ACTOR,
        "Full path of the acting process image."
    ),
    f!(
        "initiating_company",
        Text,
        ACTOR,
        "PE version-info company of the acting process."
    ),
    f!(
        "initiating_product",
        Text,
        ACTOR,
        "PE version-info product of the acting process."
    ),
    f!(
        "initiating_description",
        Text,
        ACTOR,
        "PE version-info file description of the acting process."
    ),
    f!(
        "initiating_original_file_name",
        Text,
        ACTOR,
        "PE original file name of the acting process."
    ),
    f!(
        "initiating_parent_name",
        Text,
        ACTOR,
        "File name of the acting process's parent."
    ),
    f!(
        "initiating_md5",
        Digest,
        ACTOR,
        "MD5 of the acting process image."
    ),
    f!(
        "initiating_sha1",
        Digest,
        ACTOR,
        "SHA-1 of the acting process image."
    ),
    f!(
        "initiating_sha256",
        Digest,
        ACTOR,
        "SHA-256 of the acting process image."
    ),
    f!(
        "initiating_hash",
        FieldType::HashGroup {
            md5: "initiating_md5",
            sha1: "initiating_sha1",
            sha256: "initiating_sha256"
        },
        ACTOR,
        "Virtual: `hash` values match the md5/sha1/sha256 field by length."
    ),
    // process creation
    f!("process_name", Text, &[P], "File name of the new process."),
    f!(
        "process_command_line",
        Text,
        &[P],
        "Command line of the new process."
    ),
    f!(
        "process_folder_path",
        Text,
        &[P],
        "Full path of the new process image."
    ),
    f!(
        "process_company",
        Text,
        &[P],
        "PE version-info company of the new process."
    ),
    f!(
        "process_product",
        Text,
        &[P],
        "PE version-info product of the new process."
    ),
    f!(
        "process_description",
        Text,
        &[P],
        "PE version-info file description of the new process."
    ),
    f!(
        "process_original_file_name",
        Text,
        &[P],
        "PE original file name of the new process."
    ),
    f!("process_md5", Digest, &[P], "MD5 of the new process image."),
    f!(
        "process_sha1",
        Digest,
        &[P],
        "SHA-1 of the new process image."
    ),
    f!(
        "process_sha256",
        Digest,
        &[P],
        "SHA-256 of the new process image."
    ),
    f!(
        "process_hash",
        FieldType::HashGroup {
            md5: "process_md5",
            sha1: "process_sha1",
            sha256: "process_sha256"
        },
        &[P],
        "Virtual: `hash` values match the md5/sha1/sha256 field by length."
    ),
    f!(
        "parent_process_name",
        Text,
        &[P],
        "File name of the process that created it."
    ),
    f!(
        "parent_command_line",
        Text,
        &[P],
        "Command line of the process that created it."
    ),
    f!(
        "parent_folder_path",
        Text,
        &[P],
        "Full path of the process that created it."
    ),
    // files and certificates
    f!("file_name", Text, &[F], "Name of the file."),
    f!("file_folder_path", Text, &[F], "Full path of the file."),
    f!("file_md5", Digest, &[F], "MD5 of the file."),
    f!("file_sha1", Digest, &[F, C], "SHA-1 of the file."),
    f!("file_sha256", Digest, &[F], "SHA-256 of the file."),
    f!(
        "file_hash",
        FieldType::HashGroup {
            md5: "file_md5",
            sha1: "file_sha1",
            sha256: "file_sha256"
        },
        &[F],
        "Virtual: `hash` values match the md5/sha1/sha256 field by length."
    ),
    f!(
        "signer",
        Text,
        &[C],
        "Subject of the code-signing certificate."
    ),
    f!(
        "issuer",
        Text,
        &[C],
        "Issuer of the code-signing certificate."
    ),
];

/// A canonical field: a cheap handle into `FIELDS`.
#[derive(Clone, Copy)]
pub struct Field(&'static FieldDef);

impl Field {
    pub fn lookup(name: &str) -> Option<Field> {
        FIELDS.iter().find(|d| d.name == name).map(Field)
    }
    /// For names that are known to exist (virtual field expansions).
    pub(crate) fn known(name: &str) -> Field {
        Field::lookup(name).unwrap_or_else(|| panic!("canonical field table lacks {name}"))
    }
    pub fn name(self) -> &'static str {
        self.0.name
    }
    pub fn ty(self) -> FieldType {
        self.0.ty
    }
    pub fn def(self) -> &'static FieldDef {
        self.0
    }
    pub fn in_category(self, c: Category) -> bool {
        self.0.categories.contains(&c)
    }
    pub fn categories(self) -> &'static [Category] {
        self.0.categories
    }
}

impl PartialEq for Field {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}
impl Eq for Field {}
impl std::hash::Hash for Field {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state)
    }
}
impl PartialOrd for Field {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Field {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.name.cmp(other.0.name)
    }
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}
impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Field::lookup(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown canonical field `{name}`{}",
                suggest(&name)
            ))
        })
    }
}

/// "did you mean" for field names: the known name closest to `name`, and for Sigma's
/// `field|modifier` keys the rmmc form (`hints::sigma_modifier`).
pub fn suggest(name: &str) -> String {
    if let Some(hint) = super::hints::sigma_modifier(name) {
        return format!(" ({hint})");
    }
    match super::hints::closest(name, FIELDS.iter().map(|d| d.name)) {
        Some(n) => format!(" (did you mean `{n}`?)"),
        None => String::new(),
    }
}

/// The canonical field table as Markdown (`rmmc fields`; docs/spec.md embeds the same text and a
/// test keeps the two identical).
pub fn markdown_table() -> String {
    let mut out = String::from("| field | type | categories | meaning |\n|---|---|---|---|\n");
    for f in FIELDS {
        let ty = match f.ty {
            FieldType::Text => "text",
            FieldType::Host => "host (text, and `domain`)",
            FieldType::Ip => "ip",
            FieldType::Port => "port",
            FieldType::Digest => "digest",
            FieldType::Time => "time (output only)",
            FieldType::Id => "id (output only)",
            FieldType::HashGroup { .. } => "virtual: `hash`",
            FieldType::Endpoint { .. } => "virtual: `ip_port`",
        };
        let cats: Vec<&str> = f.categories.iter().map(|c| c.name()).collect();
        out.push_str(&format!(
            "| `{}` | {ty} | {} | {} |\n",
            f.name,
            cats.join(", "),
            f.doc
        ));
    }
    out
}
