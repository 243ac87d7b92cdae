//! The CPU check that runs before anything else: the build targets x86-64-v3
//! (`.cargo/config.toml`), so on an older CPU the compiler's AVX2/BMI2/FMA instructions would stop
//! a run anywhere with an illegal instruction. Better to say so at once, and what to do.

/// The x86-64-v3 extensions as `/proc/cpuinfo` names them (`abm` is LZCNT), each with whether
/// this binary was compiled to use it: the check follows the build, whatever its target CPU.
const X86_64_V3: [(bool, &str); 8] = [
    (cfg!(target_feature = "avx"), "avx"),
    (cfg!(target_feature = "avx2"), "avx2"),
    (cfg!(target_feature = "bmi1"), "bmi1"),
    (cfg!(target_feature = "bmi2"), "bmi2"),
    (cfg!(target_feature = "fma"), "fma"),
    (cfg!(target_feature = "lzcnt"), "abm"),
    (cfg!(target_feature = "movbe"), "movbe"),
    (cfg!(target_feature = "f16c"), "f16c"),
];

/// The message for a CPU this binary was not built for, if this is one. Says nothing when the
/// build uses none of these extensions, or when `/proc/cpuinfo` cannot be read.
pub fn unsupported() -> Option<String> {
    let required: Vec<&str> = X86_64_V3.iter().filter(|f| f.0).map(|f| f.1).collect();
    if required.is_empty() {
        return None;
    }
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let missing = missing(&info, &required);
    (!missing.is_empty()).then(|| {
        format!(
            "this bce was built for x86-64-v3 CPUs (AVX2, BMI2, FMA) and this CPU lacks {}; \
             build it for any x86-64 CPU instead (README.md, \"Older CPUs\")",
            missing.join(", ")
        )
    })
}

/// The flags of `required` missing from the first `flags` line of a `/proc/cpuinfo` text.
fn missing<'a>(cpuinfo: &str, required: &[&'a str]) -> Vec<&'a str> {
    let Some(flags) = cpuinfo.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == "flags").then_some(value)
    }) else {
        return Vec::new();
    };
    let have: Vec<&str> = flags.split_whitespace().collect();
    required
        .iter()
        .copied()
        .filter(|f| !have.contains(f))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_missing_flags() {
        let v3: Vec<&str> = X86_64_V3.iter().map(|f| f.1).collect();
        let v2 = "processor\t: 0\nflags\t\t: fpu sse4_2 popcnt avx movbe f16c\nbugs\t\t:\n";
        assert_eq!(missing(v2, &v3), vec!["avx2", "bmi1", "bmi2", "fma", "abm"]);
        let full = "flags\t\t: avx avx2 bmi1 bmi2 fma abm movbe f16c sha_ni\n";
        assert!(missing(full, &v3).is_empty());
        // No flags line (another kernel's format): no verdict rather than a false alarm.
        assert!(missing("model name\t: something\n", &v3).is_empty());
    }

    #[test]
    fn this_machine_runs_this_build() {
        // The tests run on the machine that built them: it must pass its own check.
        assert_eq!(unsupported(), None);
    }
}
