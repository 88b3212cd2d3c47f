//! Every kept input of every fuzz target, on the pinned stable toolchain:
//! the seeds in `corpus/<target>/` and the inputs that once crashed, in
//! `regressions/<target>/` (named for the bug they found). A target with
//! no kept input fails: a seed is what makes a short fuzzing run reach
//! past the parsers.

use std::path::Path;

#[test]
fn every_kept_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, target) in animica_fuzz::TARGETS {
        let mut count = 0;
        for kind in ["corpus", "regressions"] {
            let Ok(dir) = std::fs::read_dir(root.join(kind).join(name)) else { continue };
            let mut files: Vec<_> = dir.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
            files.sort();
            for f in files {
                let data = std::fs::read(&f).unwrap();
                target(&data);
                count += 1;
            }
        }
        assert!(count > 0, "{name}: no seed in fuzz/corpus/{name}/ (make fuzz-seeds writes them)");
        eprintln!("{name}: {count} kept inputs pass");
    }
}
