//! Juridical forms that must deposit annual accounts with the National Bank (CBSO): companies with
//! limited liability, cooperatives, European companies, and associations and foundations (which
//! file since the 2019 Code of Companies and Associations). Natural persons (no form), partnerships
//! with unlimited liability, public bodies and foreign entities are not required to file and are
//! never penalised for missing accounts (payment-risk.md "Points").
//!
//! Reviewed against the JuridicalForm labels of code.csv (extract 147); a test checks that every
//! code listed here exists there.

/// JuridicalForm codes whose enterprises must file annual accounts.
pub const MUST_FILE: &[&str] = &[
    "001", // European cooperative society (SCE)
    "008", // CVBA / SCRL (old cooperative with limited liability)
    "009", // CVBA by participation
    "010", // one-person BVBA / SPRLU
    "013", // Comm.VA / SCA (partnership limited by shares)
    "014", // NV / SA
    "015", // BVBA / SPRL
    "016", // cooperative (old statute)
    "017", // VZW / ASBL
    "026", // private foundation
    "027", // European company (SE)
    "029", // foundation of public utility
    "125", // international non-profit association (IVZW / AISBL)
    "508", // CVBA with a social purpose
    "510", // one-person BVBA with a social purpose
    "514", // NV with a social purpose
    "515", // BVBA with a social purpose
    "608", // CVBA with a social purpose
    "610", // BV / SRL
    "614", // NV with a social purpose
    "706", // CV / SC
];

/// Whether an enterprise of this juridical form must deposit annual accounts.
pub fn must_file_accounts(form: &str) -> bool {
    MUST_FILE.contains(&form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_form_is_in_the_real_code_csv() {
        let code = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/code.csv"))
            .unwrap_or_default();
        for f in MUST_FILE {
            let row = format!("\"JuridicalForm\",\"{f}\",\"NL\",");
            assert!(
                code.contains(&row),
                "{f} is not a JuridicalForm in code.csv"
            );
        }
        assert!(must_file_accounts("610"));
        assert!(!must_file_accounts(""), "natural persons have no form");
        assert!(!must_file_accounts("011"), "VOF / SNC: unlimited liability");
    }
}
