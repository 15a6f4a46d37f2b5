//! MITRE ATT&CK (enterprise) facts rmmc needs: tactic names in each target's spelling, and
//! which tactics a technique belongs to. Data, not code; extend the tables, not the logic.
//! Source: attack.mitre.org (enterprise matrix v15).

use serde::{Deserialize, Serialize};

/// Tactics as Microsoft Sentinel spells them (the spec uses the same names).
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
pub enum Tactic {
    Reconnaissance,
    ResourceDevelopment,
    InitialAccess,
    Execution,
    Persistence,
    PrivilegeEscalation,
    DefenseEvasion,
    CredentialAccess,
    Discovery,
    LateralMovement,
    Collection,
    CommandAndControl,
    Exfiltration,
    Impact,
}

pub struct TacticInfo {
    pub tactic: Tactic,
    /// ATT&CK id, e.g. TA0011.
    pub id: &'static str,
    /// Display name, e.g. "Command and Control".
    pub name: &'static str,
    /// Sigma tag suffix, e.g. `command-and-control`.
    pub sigma: &'static str,
}

use Tactic::*;

pub static TACTICS: &[TacticInfo] = &[
    TacticInfo {
        tactic: Reconnaissance,
        id: "TA0043",
        name: "Reconnaissance",
        sigma: "reconnaissance",
    },
    TacticInfo {
        tactic: ResourceDevelopment,
        id: "TA0042",
        name: "Resource Development",
        sigma: "resource-development",
    },
    TacticInfo {
        tactic: InitialAccess,
        id: "TA0001",
        name: "Initial Access",
        sigma: "initial-access",
    },
    TacticInfo {
        tactic: Execution,
        id: "TA0002",
        name: "Execution",
        sigma: "execution",
    },
    TacticInfo {
        tactic: Persistence,
        id: "TA0003",
        name: "Persistence",
        sigma: "persistence",
    },
    TacticInfo {
        tactic: PrivilegeEscalation,
        id: "TA0004",
        name: "Privilege Escalation",
        sigma: "privilege-escalation",
    },
    TacticInfo {
        tactic: DefenseEvasion,
        id: "TA0005",
        name: "Defense Evasion",
        sigma: "defense-evasion",
    },
    TacticInfo {
        tactic: CredentialAccess,
        id: "TA0006",
        name: "Credential Access",
        sigma: "credential-access",
    },
    TacticInfo {
        tactic: Discovery,
        id: "TA0007",
        name: "Discovery",
        sigma: "discovery",
    },
    TacticInfo {
        tactic: LateralMovement,
        id: "TA0008",
        name: "Lateral Movement",
        sigma: "lateral-movement",
    },
    TacticInfo {
        tactic: Collection,
        id: "TA0009",
        name: "Collection",
        sigma: "collection",
    },
    TacticInfo {
        tactic: CommandAndControl,
        id: "TA0011",
        name: "Command and Control",
        sigma: "command-and-control",
    },
    TacticInfo {
        tactic: Exfiltration,
        id: "TA0010",
        name: "Exfiltration",
        sigma: "exfiltration",
    },
    TacticInfo {
        tactic: Impact,
        id: "TA0040",
        name: "Impact",
        sigma: "impact",
    },
];

impl Tactic {
    pub fn info(self) -> &'static TacticInfo {
        TACTICS
            .iter()
            .find(|t| t.tactic == self)
            .expect("every tactic has a row in TACTICS")
    }
}

/// (technique id, name, tactics). Techniques relevant to RMM abuse and its surroundings;
/// sub-techniques inherit the parent's tactics unless listed.
pub static TECHNIQUES: &[(&str, &str, &[Tactic])] = &[
    ("T1219", "Remote Access Tools", &[CommandAndControl]),
    ("T1071", "Application Layer Protocol", &[CommandAndControl]),
    ("T1090", "Proxy", &[CommandAndControl]),
    (
        "T1095",
        "Non-Application Layer Protocol",
        &[CommandAndControl],
    ),
    ("T1102", "Web Service", &[CommandAndControl]),
    ("T1105", "Ingress Tool Transfer", &[CommandAndControl]),
    ("T1571", "Non-Standard Port", &[CommandAndControl]),
    ("T1572", "Protocol Tunneling", &[CommandAndControl]),
    ("T1573", "Encrypted Channel", &[CommandAndControl]),
    (
        "T1133",
        "External Remote Services",
        &[Persistence, InitialAccess],
    ),
    (
        "T1078",
        "Valid Accounts",
        &[
            DefenseEvasion,
            Persistence,
            PrivilegeEscalation,
            InitialAccess,
        ],
    ),
    ("T1021", "Remote Services", &[LateralMovement]),
    (
        "T1543",
        "Create or Modify System Process",
        &[Persistence, PrivilegeEscalation],
    ),
    (
        "T1053",
        "Scheduled Task/Job",
        &[Execution, Persistence, PrivilegeEscalation],
    ),
    ("T1569", "System Services", &[Execution]),
    ("T1204", "User Execution", &[Execution]),
    ("T1036", "Masquerading", &[DefenseEvasion]),
    ("T1553", "Subvert Trust Controls", &[DefenseEvasion]),
    ("T1588", "Obtain Capabilities", &[ResourceDevelopment]),
    ("T1608", "Stage Capabilities", &[ResourceDevelopment]),
    ("T1041", "Exfiltration Over C2 Channel", &[Exfiltration]),
    ("T1567", "Exfiltration Over Web Service", &[Exfiltration]),
    ("T1113", "Screen Capture", &[Collection]),
    ("T1056", "Input Capture", &[Collection, CredentialAccess]),
];

/// The tactics of a technique (a sub-technique answers with its parent's), or `None` when the
/// table does not know it.
pub fn tactics_of(technique: &str) -> Option<&'static [Tactic]> {
    let base = technique.get(..5)?;
    TECHNIQUES
        .iter()
        .find(|(id, _, _)| *id == base)
        .map(|(_, _, t)| *t)
}
