fn main() {
    if let Err(error) = loadplan::run(std::env::args_os()) {
        if error.print_message() {
            eprintln!("{error}");
        }
        std::process::exit(error.exit_code());
    }
}
