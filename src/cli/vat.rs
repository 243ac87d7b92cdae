pub fn run(_c: &Command) -> anyhow::Result<u8> {
    Ok(0)
}
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    Validate,
}
