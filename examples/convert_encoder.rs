//! Converts the upstream all-MiniLM-L6-v2 release (float32) into the
//! half-precision copy shipped in `models/encoder/`.
//!
//! ```sh
//! cargo run --release --example convert_encoder -- ../shared/encoder models/encoder
//! ```
use moderate::encoder::BaseEncoder;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(src), Some(dst)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: convert_encoder SOURCE_DIR OUT_DIR");
    };
    let (src, dst) = (PathBuf::from(src), PathBuf::from(dst));
    let base = BaseEncoder::from_dir(&src)?;
    std::fs::create_dir_all(&dst)?;
    let f16 = base.to_f16_safetensors()?;
    std::fs::write(dst.join("model.f16.safetensors"), &f16)?;
    for name in ["config.json", "tokenizer.json", "LICENSE-Apache-2.0"] {
        std::fs::copy(src.join(name), dst.join(name))?;
    }
    println!(
        "{} ({} bytes, sha256 {}) -> {} ({} bytes, sha256 {})",
        src.display(),
        std::fs::metadata(src.join("model.safetensors"))?.len(),
        base.sha256,
        dst.join("model.f16.safetensors").display(),
        f16.len(),
        moderate::encoder::base::sha256_hex(&f16)
    );
    Ok(())
}
