//! The CPU check that runs before anything else: the build targets x86-64-v3
//! (`.cargo/config.toml`), so on an older CPU the compiler's AVX2/BMI2/FMA instructions would stop
//! a run anywhere with an illegal instruction. Better to say so at once, and what to do.

/// What x86-64-v3 lets the compiler use, as `/proc/cpuinfo` names it (`abm` is LZCNT).
const X86_64_V3: [&str; 8] = ["avx", "avx2", "bmi1", "bmi2", "fma", "abm", "movbe", "f16c"];

/// The message for a CPU this binary was not built for, if this is one. Says nothing when the
/// build targets any x86-64 CPU, or when `/proc/cpuinfo` cannot be read.
pub fn unsupported() -> Option<String> {
    if !cfg!(all(target_arch = "x86_64", target_feature = "avx2")) {
        return None;
    }
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let missing = missing(&info);
    (!missing.is_empty()).then(|| {
        format!(
            "this bce was built for x86-64-v3 CPUs (AVX2, BMI2, FMA) and this CPU lacks {}; \
             build it for any x86-64 CPU instead (README.md, \"Older CPUs\")",
            missing.join(", ")
        )
    })
}

/// The x86-64-v3 flags missing from the first `flags` line of a `/proc/cpuinfo` text.
fn missing(cpuinfo: &str) -> Vec<&'static str> {
    let Some(flags) = cpuinfo.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == "flags").then_some(value)
    }) else {
        return Vec::new();
    };
    let have: Vec<&str> = flags.split_whitespace().collect();
    X86_64_V3
        .into_iter()
        .filter(|f| !have.contains(f))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_missing_flags() {
        let v2 = "processor\t: 0\nflags\t\t: fpu sse4_2 popcnt avx movbe f16c\nbugs\t\t:\n";
        assert_eq!(missing(v2), vec!["avx2", "bmi1", "bmi2", "fma", "abm"]);
        let v3 = "flags\t\t: avx avx2 bmi1 bmi2 fma abm movbe f16c sha_ni\n";
        assert!(missing(v3).is_empty());
        // No flags line (another kernel's format): no verdict rather than a false alarm.
        assert!(missing("model name\t: something\n").is_empty());
    }

    #[test]
    fn this_machine_runs_this_build() {
        // The tests run on the machine that built them: it must pass its own check.
        assert_eq!(unsupported(), None);
    }
}
