//! `facegate-rgbdump IMAGE OUT`: decodes IMAGE with `image::open(..).to_rgb8()`
//! and writes the raw RGB bytes (row-major, H x W x 3) to OUT; prints "W H".

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: facegate-rgbdump IMAGE OUT");
        return ExitCode::from(2);
    };
    let rgb = match image::open(input) {
        Ok(img) => img.to_rgb8(),
        Err(e) => {
            eprintln!("{input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(output, rgb.as_raw()) {
        eprintln!("{output}: {e}");
        return ExitCode::FAILURE;
    }
    println!("{} {}", rgb.width(), rgb.height());
    ExitCode::SUCCESS
}
