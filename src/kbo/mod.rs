//! The KBO Open Data extract format (kbo-open-data.md): the tables and their exact headers, entity
//! numbers, dates, `meta.csv`, and reading an extract from a zip (in place) or a folder.
//!
//! Pure format knowledge plus read access; no stage logic. Invariants: columns are bound by header
//! name, never by position; codes stay strings; an empty field (`,,` or `""`) is NULL.

pub mod activity;
pub mod date;
pub mod extract;
pub mod forms;
pub mod meta;
pub mod number;
pub mod records;

pub use extract::Extract;
pub use meta::{ExtractType, Meta};

use number::EntityKind;

/// How a column is typed and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// A number of this kind in KBO display form, mod-97 checked.
    Number(EntityKind),
    /// `EntityNumber` of a child table: an enterprise, establishment or branch number.
    EntityNumber,
    /// A code such as "000" or "014": a string with its leading zeros.
    Code,
    /// Free text.
    Text,
    /// `dd-mm-yyyy`, typed as DATE.
    Date,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The header in the CSV file.
    pub header: &'static str,
    /// The column name in Parquet and the warehouse (warehouse.md).
    pub name: &'static str,
    pub ty: ColType,
    /// A missing required column is an error; a missing optional one is a warning (NULL column).
    pub required: bool,
    /// A NULL in a non-nullable column rejects the row.
    pub nullable: bool,
}

const fn col(header: &'static str, name: &'static str, ty: ColType) -> Column {
    Column {
        header,
        name,
        ty,
        required: true,
        nullable: true,
    }
}
const fn key(header: &'static str, name: &'static str, ty: ColType) -> Column {
    Column {
        header,
        name,
        ty,
        required: true,
        nullable: false,
    }
}
const fn optional(header: &'static str, name: &'static str, ty: ColType) -> Column {
    Column {
        header,
        name,
        ty,
        required: false,
        nullable: true,
    }
}

/// One data table of an extract.
#[derive(Debug)]
pub struct TableDef {
    /// Table name in the snapshot and the warehouse.
    pub name: &'static str,
    /// File name in a Full extract.
    pub file: &'static str,
    pub columns: &'static [Column],
    /// The entity column: the table's own unique key for enterprise/establishment/branch, the
    /// owner entity for the child tables. Always column 0.
    pub unique_key: bool,
}

impl TableDef {
    pub fn by_name(name: &str) -> Option<&'static TableDef> {
        TABLES.iter().find(|t| t.name == name)
    }
    /// The key column (the first): the entity each row belongs to.
    pub fn key(&self) -> &'static str {
        self.columns[0].name
    }
    /// Whether the table's Parquet file carries the derived `vat_number` (the enterprise table,
    /// not an Update's key-only delete file).
    pub fn derives_vat(&self) -> bool {
        self.name == "enterprise" && self.unique_key
    }
    /// Whether an entity has many rows here, listed together (activity: about ten an entity,
    /// kbo-open-data.md); the other child tables have one or two.
    pub fn many_rows_per_entity(&self) -> bool {
        self.name == "activity"
    }
    /// `<table>_insert.csv` / `<table>_delete.csv` of an Update extract.
    pub fn update_file(&self, suffix: &str) -> String {
        format!("{}_{suffix}.csv", self.name)
    }
}

use ColType::*;
use EntityKind::{Branch, Enterprise, Establishment};

/// The seven data tables, in ingest order: owners first, so that child rows can be checked against
/// the entities of the extract.
pub static TABLES: [TableDef; 7] = [
    TableDef {
        name: "enterprise",
        file: "enterprise.csv",
        unique_key: true,
        columns: &[
            key("EnterpriseNumber", "enterprise_number", Number(Enterprise)),
            col("Status", "status", Code),
            col("JuridicalSituation", "juridical_situation", Code),
            col("TypeOfEnterprise", "type_of_enterprise", Code),
            col("JuridicalForm", "juridical_form", Code),
            // Added in 2023 (Cookbook R018): older extracts lack it.
            optional("JuridicalFormCAC", "juridical_form_cac", Code),
            col("StartDate", "start_date", Date),
        ],
    },
    TableDef {
        name: "establishment",
        file: "establishment.csv",
        unique_key: true,
        columns: &[
            key(
                "EstablishmentNumber",
                "establishment_number",
                Number(Establishment),
            ),
            col("StartDate", "start_date", Date),
            key("EnterpriseNumber", "enterprise_number", Number(Enterprise)),
        ],
    },
    TableDef {
        name: "branch",
        file: "branch.csv",
        unique_key: true,
        columns: &[
            key("Id", "branch_id", Number(Branch)),
            col("StartDate", "start_date", Date),
            key("EnterpriseNumber", "enterprise_number", Number(Enterprise)),
        ],
    },
    TableDef {
        name: "denomination",
        file: "denomination.csv",
        unique_key: false,
        columns: &[
            key("EntityNumber", "entity_number", EntityNumber),
            col("Language", "language", Code),
            col("TypeOfDenomination", "type_of_denomination", Code),
            col("Denomination", "denomination", Text),
        ],
    },
    TableDef {
        name: "address",
        file: "address.csv",
        unique_key: false,
        columns: &[
            key("EntityNumber", "entity_number", EntityNumber),
            col("TypeOfAddress", "type_of_address", Code),
            col("CountryNL", "country_nl", Text),
            col("CountryFR", "country_fr", Text),
            col("Zipcode", "zipcode", Code),
            col("MunicipalityNL", "municipality_nl", Text),
            col("MunicipalityFR", "municipality_fr", Text),
            col("StreetNL", "street_nl", Text),
            col("StreetFR", "street_fr", Text),
            col("HouseNumber", "house_number", Text),
            col("Box", "box", Text),
            col("ExtraAddressInfo", "extra_address_info", Text),
            optional("DateStrikingOff", "date_striking_off", Date),
        ],
    },
    TableDef {
        name: "contact",
        file: "contact.csv",
        unique_key: false,
        columns: &[
            key("EntityNumber", "entity_number", EntityNumber),
            col("EntityContact", "entity_contact", Code),
            col("ContactType", "contact_type", Code),
            col("Value", "value", Text),
        ],
    },
    TableDef {
        name: "activity",
        file: "activity.csv",
        unique_key: false,
        columns: &[
            key("EntityNumber", "entity_number", EntityNumber),
            col("ActivityGroup", "activity_group", Code),
            col("NaceVersion", "nace_version", Code),
            col("NaceCode", "nace_code", Code),
            col("Classification", "classification", Code),
        ],
    },
];

/// The delete files of an Update extract (kbo-open-data.md "Update extracts"): the key column only,
/// in [`TABLES`] order. Duplicate keys are harmless there, so none is unique.
pub static DELETE_TABLES: [TableDef; 7] = [
    TableDef {
        name: "enterprise",
        file: "enterprise_delete.csv",
        unique_key: false,
        columns: &[key(
            "EnterpriseNumber",
            "enterprise_number",
            Number(Enterprise),
        )],
    },
    TableDef {
        name: "establishment",
        file: "establishment_delete.csv",
        unique_key: false,
        columns: &[key(
            "EstablishmentNumber",
            "establishment_number",
            Number(Establishment),
        )],
    },
    TableDef {
        name: "branch",
        file: "branch_delete.csv",
        unique_key: false,
        columns: &[key("Id", "branch_id", Number(Branch))],
    },
    TableDef {
        name: "denomination",
        file: "denomination_delete.csv",
        unique_key: false,
        columns: &[key("EntityNumber", "entity_number", EntityNumber)],
    },
    TableDef {
        name: "address",
        file: "address_delete.csv",
        unique_key: false,
        columns: &[key("EntityNumber", "entity_number", EntityNumber)],
    },
    TableDef {
        name: "contact",
        file: "contact_delete.csv",
        unique_key: false,
        columns: &[key("EntityNumber", "entity_number", EntityNumber)],
    },
    TableDef {
        name: "activity",
        file: "activity_delete.csv",
        unique_key: false,
        columns: &[key("EntityNumber", "entity_number", EntityNumber)],
    },
];

/// The header of code.csv.
pub const CODE_HEADER: [&str; 4] = ["Category", "Code", "Language", "Description"];

/// Binds a table's columns to positions in a header row, by name.
#[derive(Debug, Clone)]
pub struct Binding {
    /// For each column of the table definition, its position in the file (None: optional and absent).
    pub positions: Vec<Option<usize>>,
    /// Number of fields in the header row.
    pub width: usize,
    pub unknown_columns: Vec<String>,
    pub missing_optional: Vec<String>,
}

/// Binds `header` to `columns`; `Err(column)` names the first missing required column.
pub fn bind(columns: &[Column], header: &[&str]) -> Result<Binding, String> {
    let clean: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                h
            }
        })
        .map(|h| h.trim())
        .collect();
    let mut positions = Vec::with_capacity(columns.len());
    let mut missing_optional = Vec::new();
    for c in columns {
        match clean.iter().position(|h| h.eq_ignore_ascii_case(c.header)) {
            Some(p) => positions.push(Some(p)),
            None if c.required => return Err(c.header.to_string()),
            None => {
                missing_optional.push(c.header.to_string());
                positions.push(None);
            }
        }
    }
    let unknown_columns = clean
        .iter()
        .filter(|h| !columns.iter().any(|c| c.header.eq_ignore_ascii_case(h)))
        .map(|h| h.to_string())
        .collect();
    Ok(Binding {
        positions,
        width: clean.len(),
        unknown_columns,
        missing_optional,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_by_name_in_any_order() {
        let t = TableDef::by_name("establishment").unwrap();
        let b = bind(
            t.columns,
            &[
                "\u{feff}EnterpriseNumber",
                "Extra",
                "StartDate",
                "EstablishmentNumber",
            ],
        )
        .unwrap();
        assert_eq!(b.positions, vec![Some(3), Some(2), Some(0)]);
        assert_eq!(b.unknown_columns, vec!["Extra".to_string()]);
    }

    #[test]
    fn missing_required_and_optional() {
        let t = TableDef::by_name("enterprise").unwrap();
        let full = [
            "EnterpriseNumber",
            "Status",
            "JuridicalSituation",
            "TypeOfEnterprise",
            "JuridicalForm",
            "StartDate",
        ];
        let b = bind(t.columns, &full).unwrap();
        assert_eq!(b.missing_optional, vec!["JuridicalFormCAC".to_string()]);
        assert_eq!(bind(t.columns, &full[1..]).unwrap_err(), "EnterpriseNumber");
    }
}
