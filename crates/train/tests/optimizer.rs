//! The optimizer step by hand: two steps of `train`'s own step function ([`sgd_step`]: loss,
//! backward, weight decay, burn's SGD) on a one-hidden-layer MLP, against the same two steps
//! computed here in f64 from the paper's rule — cross-entropy gradients written out, weight decay
//! on the weights of linear layers only, PyTorch's momentum (buffer = first gradient, then
//! `v ← μ·v + g`, no dampening), `w ← w − lr·v`, and the learning rate decayed once per epoch.

#![allow(deprecated)]
// burn-tch, the backend this project chose (see crates/train/src/lib.rs)

// The hand-derived formulas index several arrays with one subscript, as the math writes them.
#![allow(clippy::needless_range_loop)]

use burn::tensor::{Device, Int, Tensor, TensorData};
use train::data::labels_tensor;
use train::models::{Architecture, ModelName, Network};
use train::training::{learning_rate, sgd, sgd_step};

const INPUT: usize = 3;
const WIDTH: usize = 512;
const CLASSES: usize = 4;

/// The MLP's parameters in f64, burn's layout: `w1` is `[INPUT][WIDTH]` (x·W), `w2`
/// `[WIDTH][CLASSES]`.
#[derive(Clone, Debug)]
struct Params {
    w1: Vec<f64>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: Vec<f64>,
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn params(model: &Network) -> Params {
    let Network::Mlp(m) = model else {
        unreachable!("an MLP")
    };
    let (hidden, out) = (&m.hidden[0], &m.output);
    Params {
        w1: host(hidden.weight.val()),
        b1: host(hidden.bias.as_ref().unwrap().val()),
        w2: host(out.weight.val()),
        b2: host(out.bias.as_ref().unwrap().val()),
    }
}

/// Gradients of the mean cross-entropy of the batch, by the chain rule.
fn gradients(p: &Params, xs: &[[f64; INPUT]], ys: &[usize]) -> Params {
    let b = xs.len() as f64;
    let mut g = Params {
        w1: vec![0.0; p.w1.len()],
        b1: vec![0.0; WIDTH],
        w2: vec![0.0; p.w2.len()],
        b2: vec![0.0; CLASSES],
    };
    for (x, &y) in xs.iter().zip(ys) {
        let pre: Vec<f64> = (0..WIDTH)
            .map(|j| p.b1[j] + (0..INPUT).map(|i| x[i] * p.w1[i * WIDTH + j]).sum::<f64>())
            .collect();
        let h: Vec<f64> = pre.iter().map(|v| v.max(0.0)).collect();
        let logits: Vec<f64> = (0..CLASSES)
            .map(|k| {
                p.b2[k]
                    + (0..WIDTH)
                        .map(|j| h[j] * p.w2[j * CLASSES + k])
                        .sum::<f64>()
            })
            .collect();
        let top = logits.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = logits.iter().map(|l| (l - top).exp()).sum();
        // d(loss)/d(logit_k) = (softmax_k − [k = y]) / batch
        let dl: Vec<f64> = (0..CLASSES)
            .map(|k| (((logits[k] - top).exp() / z) - f64::from(k == y)) / b)
            .collect();
        for k in 0..CLASSES {
            g.b2[k] += dl[k];
            for j in 0..WIDTH {
                g.w2[j * CLASSES + k] += h[j] * dl[k];
            }
        }
        for j in 0..WIDTH {
            if pre[j] <= 0.0 {
                continue;
            }
            let dh: f64 = (0..CLASSES).map(|k| dl[k] * p.w2[j * CLASSES + k]).sum();
            g.b1[j] += dh;
            for i in 0..INPUT {
                g.w1[i * WIDTH + j] += x[i] * dh;
            }
        }
    }
    g
}

/// One step of SGD with momentum and weight decay on the weights (not the biases), in place.
/// `v` is the momentum buffer; `first` marks the first step, whose buffer is the gradient itself
/// (PyTorch's rule).
fn step_by_hand(
    p: &mut Params,
    v: &mut Params,
    g: &Params,
    first: bool,
    lr: f64,
    mu: f64,
    wd: f64,
) {
    let mut d = g.clone();
    for (gi, wi) in d.w1.iter_mut().zip(&p.w1) {
        *gi += wd * wi;
    }
    for (gi, wi) in d.w2.iter_mut().zip(&p.w2) {
        *gi += wd * wi;
    }
    for (vt, dt, wt) in [
        (&mut v.w1, &d.w1, &mut p.w1),
        (&mut v.b1, &d.b1, &mut p.b1),
        (&mut v.w2, &d.w2, &mut p.w2),
        (&mut v.b2, &d.b2, &mut p.b2),
    ] {
        for ((vi, di), wi) in vt.iter_mut().zip(dt).zip(wt.iter_mut()) {
            *vi = if first { *di } else { mu * *vi + di };
            *wi -= lr * *vi;
        }
    }
}

fn assert_close(name: &str, got: &[f64], want: &[f64], before: &[f64]) {
    assert_eq!(got.len(), want.len(), "{name}");
    // The step must have moved the parameter, and moved it where the rule says.
    let moved = got
        .iter()
        .zip(before)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(moved > 1e-4, "{name}: the steps moved it by only {moved}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 2e-6 + 1e-4 * b.abs(),
            "{name}[{i}]: train's step gives {a}, the rule by hand {b}"
        );
    }
}

#[test]
fn two_steps_of_sgd_with_momentum_weight_decay_and_lr_decay_follow_the_rule() {
    let (lr, lr_decay, momentum, wd) = (0.1, 0.5, 0.9, 0.05);
    // One batch per epoch: the second step runs at the decayed rate.
    let steps_per_epoch = 1;
    assert_eq!(learning_rate(lr, lr_decay, steps_per_epoch, 0), lr);
    assert_eq!(
        learning_rate(lr, lr_decay, steps_per_epoch, 1),
        lr * lr_decay
    );
    assert_eq!(learning_rate(lr, lr_decay, 3, 2), lr);
    assert_eq!(learning_rate(lr, lr_decay, 3, 7), lr * lr_decay * lr_decay);

    let plain = Device::libtorch();
    let device = plain.clone().autodiff();
    device.seed(11);
    let arch = Architecture {
        name: ModelName::Mlp {
            depth: 1,
            width: WIDTH,
        },
        input: [1, 1, INPUT],
        classes: CLASSES,
        batchnorm: false,
        dropout: 0.0,
    };
    let mut model = Network::new(&arch, &device);
    let xs = [
        [0.5, -1.0, 2.0],
        [1.5, 0.25, -0.5],
        [-2.0, 1.0, 0.75],
        [0.1, 0.2, -1.2],
        [1.0, 1.0, 1.0],
    ];
    let ys = [0usize, 3, 1, 2, 3];
    let x = || {
        let flat: Vec<f32> = xs.iter().flatten().map(|&v| v as f32).collect();
        Tensor::<4>::from_data(TensorData::new(flat, [xs.len(), 1, 1, INPUT]), &plain).autodiff()
    };
    let y = || -> Tensor<2, Int> {
        let labels: Vec<u16> = ys.iter().map(|&y| y as u16).collect();
        labels_tensor(&labels, &plain)
            .unsqueeze_dim::<2>(1)
            .autodiff()
    };

    let start = params(&model);
    let mut expected = start.clone();
    let mut velocity = start.clone();
    let mut optimizer = sgd(momentum);
    for step in 0..2 {
        let rate = learning_rate(lr, lr_decay, steps_per_epoch, step);
        let g = gradients(&expected, &xs, &ys);
        step_by_hand(
            &mut expected,
            &mut velocity,
            &g,
            step == 0,
            rate,
            momentum,
            wd,
        );
        let (next, _loss) = sgd_step(model, &mut optimizer, x(), y(), wd, rate);
        model = next;
    }
    let got = params(&model);
    assert_close("hidden.weight", &got.w1, &expected.w1, &start.w1);
    assert_close("hidden.bias", &got.b1, &expected.b1, &start.b1);
    assert_close("output.weight", &got.w2, &expected.w2, &start.w2);
    assert_close("output.bias", &got.b2, &expected.b2, &start.b2);
}
