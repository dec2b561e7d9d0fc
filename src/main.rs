fn main() {
    if let Err(code) = loadplan::run(std::env::args_os()) {
        std::process::exit(code);
    }
}
