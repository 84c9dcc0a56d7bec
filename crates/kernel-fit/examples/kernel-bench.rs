//! Times kernel-fit's kernel build and Cholesky solve alone (no file writing, no prediction), for
//! `scripts/bench-kernel`, which times numpy and scipy on the same images.
//!
//!   kernel-bench FILE N GAMMA THREADS REPEAT
//!
//! Takes the first N training images of FILE (pixels / 255), builds K = exp(−γ‖x_i − x_j‖²) and
//! solves K α = Y (one-hot labels) by Cholesky, REPEAT times, and prints the best seconds of
//! each as JSON: {"n", "d", "threads", "build_s", "solve_s", "residual"}.

use std::time::Instant;

use faer::Par;
use kernel_fit::{data, gaussian};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, n, gamma, threads, repeat] = &args[..] else {
        anyhow::bail!("usage: kernel-bench FILE N GAMMA THREADS REPEAT");
    };
    let (n, gamma, threads, repeat): (usize, f64, usize, usize) = (
        n.parse()?,
        gamma.parse()?,
        threads.parse()?,
        repeat.parse()?,
    );
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    let par = if threads == 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    };
    let dataset = rethink_dataset::read_path(std::path::Path::new(file))?;
    let train = data::train_split(&dataset, file)?;
    let keep: Vec<usize> = (0..n.min(train.len())).collect();
    let x = data::flatten(train, Some(&keep), file, "train_images")?;
    let y = data::one_hot(&x.labels, dataset.num_classes());
    let (mut build_s, mut solve_s) = (f64::INFINITY, f64::INFINITY);
    let mut k = vec![0.0f64; x.len() * x.len()];
    let mut alpha = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        gaussian::build_into(&mut k, &x, gamma, 0.0, par);
        build_s = build_s.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        gaussian::factor(&mut k, x.len(), par)
            .map_err(|p| anyhow::anyhow!("Cholesky failed at pivot {p}"))?;
        alpha = y.clone();
        gaussian::solve(&k, x.len(), &mut alpha, par);
        solve_s = solve_s.min(t.elapsed().as_secs_f64());
    }
    let pred = gaussian::predict(&x, &x, &alpha, gamma, par);
    let residual = pred
        .iter()
        .zip(&y)
        .map(|(p, t)| (p - t) * (p - t))
        .sum::<f64>()
        .sqrt()
        / y.iter().map(|v| v * v).sum::<f64>().sqrt();
    println!(
        "{{\"n\": {}, \"d\": {}, \"threads\": {threads}, \"build_s\": {build_s}, \"solve_s\": {solve_s}, \"residual\": {residual}}}",
        x.len(),
        x.d
    );
    Ok(())
}
