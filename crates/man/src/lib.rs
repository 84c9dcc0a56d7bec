//! `rethink-man`: the tools' man pages and shell completions, generated from each tool's clap
//! `Args` so that they say exactly what the binaries accept. `make install` runs it into a
//! scratch folder and copies the files into place (scripts/make/install.mk).

#![warn(missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{CommandFactory, Parser};
use clap_complete::Shell;

/// Write a man page and bash, zsh and fish completions for every rethink tool.
///
/// The files go under --out in the layout of a `share/` folder, so that DIR can be PREFIX/share
/// itself:
///   DIR/man/man1/<tool>.1
///   DIR/bash-completion/completions/<tool>
///   DIR/zsh/site-functions/_<tool>
///   DIR/fish/vendor_completions.d/<tool>.fish
///
/// `make install` (PREFIX=~/.local, DESTDIR) installs them beside the binaries.
#[derive(Debug, Parser)]
#[command(name = "rethink-man", version, verbatim_doc_comment)]
pub struct Args {
    /// The folder to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Every installed tool, by binary name, with its command-line definition.
pub fn tools() -> Vec<clap::Command> {
    vec![
        cifar_fetch::Args::command(),
        mnist_fetch::Args::command(),
        imagenet_pack::Args::command(),
        corrupt::Args::command(),
        subset::Args::command(),
        inspect::Args::command(),
        train::Args::command(),
        kernel_fit::Args::command(),
        report::Args::command(),
    ]
}

/// One generated file: where it goes under the output folder, and what it holds.
pub struct File {
    /// Relative to the output folder, e.g. `man/man1/corrupt.1`.
    pub path: PathBuf,
    /// The page's troff or the completion script.
    pub contents: Vec<u8>,
}

/// The man page and the three completion scripts of one tool.
pub fn files_for(cmd: clap::Command) -> anyhow::Result<Vec<File>> {
    let name = cmd.get_name().to_string();
    let mut cmd = cmd;
    cmd.build();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .with_context(|| format!("rendering the man page of {name}"))?;
    let mut files = vec![File {
        path: Path::new("man/man1").join(format!("{name}.1")),
        contents: page,
    }];
    for (shell, path) in [
        (
            Shell::Bash,
            Path::new("bash-completion/completions").join(&name),
        ),
        (
            Shell::Zsh,
            Path::new("zsh/site-functions").join(format!("_{name}")),
        ),
        (
            Shell::Fish,
            Path::new("fish/vendor_completions.d").join(format!("{name}.fish")),
        ),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, &name, &mut script);
        files.push(File {
            path,
            contents: script,
        });
    }
    Ok(files)
}

/// Writes every tool's files under `args.out`.
pub fn run(args: Args) -> anyhow::Result<()> {
    for cmd in tools() {
        for file in files_for(cmd)? {
            let path = args.out.join(&file.path);
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            fs::write(&path, &file.contents)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_gets_a_page_naming_its_options_and_three_completions() {
        for cmd in tools() {
            let name = cmd.get_name().to_string();
            let longs: Vec<String> = cmd
                .get_arguments()
                .filter_map(|a| {
                    a.get_long()
                        .map(|l| format!("\\-\\-{}", l.replace('-', "\\-")))
                })
                .collect();
            let files = files_for(cmd).unwrap();
            assert_eq!(files.len(), 4, "{name}");
            let page = String::from_utf8(files[0].contents.clone()).unwrap();
            assert!(page.contains(&format!(".TH {name} 1")), "{name}: {page}");
            for long in &longs {
                assert!(page.contains(long), "{name}: the page lacks {long}");
            }
            for file in &files[1..] {
                let script = String::from_utf8(file.contents.clone()).unwrap();
                assert!(script.contains(&name), "{name}: {}", file.path.display());
            }
        }
    }

    #[test]
    fn writes_the_share_layout() {
        let dir = tempfile::tempdir().unwrap();
        run(Args {
            out: dir.path().to_path_buf(),
        })
        .unwrap();
        for tool in ["corrupt", "train"] {
            for rel in [
                format!("man/man1/{tool}.1"),
                format!("bash-completion/completions/{tool}"),
                format!("zsh/site-functions/_{tool}"),
                format!("fish/vendor_completions.d/{tool}.fish"),
            ] {
                assert!(dir.path().join(&rel).is_file(), "{rel}");
            }
        }
    }
}
