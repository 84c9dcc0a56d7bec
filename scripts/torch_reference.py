"""The paper's models in PyTorch, built as crates/train builds them (same layers, same LRN
formula, same SAME-pooling, same per-image whitening): the reference for scripts/bench-train and
scripts/gpu-check.

LRN is written the way PyTorch code usually computes a channel-window sum (an average pool over
the channel axis, as torch.nn.LocalResponseNorm does); `train` computes the same sum as a banded
matrix product (`lrn_band`, selected with the model name "alexnet-small+band")."""
import torch
import torch.nn as nn
import torch.nn.functional as F

def lrn_tf(x, depth_radius=4, bias=1.0, alpha=0.001 / 9.0, beta=0.75):
    n, c, h, w = x.shape
    window = 2 * depth_radius + 1
    sq = x.square().reshape(n, 1, c, h * w)
    sums = F.avg_pool2d(sq, (window, 1), stride=1, padding=(depth_radius, 0), count_include_pad=True)
    return x / (sums.reshape(n, c, h, w) * (alpha * window) + bias).pow(beta)

def lrn_band(x, depth_radius=4, bias=1.0, alpha=0.001 / 9.0, beta=0.75):
    """lrn_tf with the window sum as `train` computes it: squares @ a banded [c, c] matrix."""
    n, c, h, w = x.shape
    k = torch.arange(c, device=x.device)
    band = ((k[:, None] - k[None, :]).abs() <= depth_radius).to(x.dtype) * alpha
    sums = (x.square().permute(0, 2, 3, 1).reshape(-1, c) @ band).reshape(n, h, w, c).permute(0, 3, 1, 2)
    return x * (sums + bias).pow(-beta)

class Mlp(nn.Module):
    def __init__(self, d, depth=1, width=512, classes=10):
        super().__init__()
        layers, cin = [], d
        for _ in range(depth):
            layers += [nn.Linear(cin, width), nn.ReLU()]
            cin = width
        self.net = nn.Sequential(*layers, nn.Linear(cin, classes))
    def forward(self, x):  # x: [b, h, w, c]
        return self.net(x.flatten(1))

class AlexNetSmall(nn.Module):
    def __init__(self, classes=10, lrn=lrn_tf):
        super().__init__()
        self.lrn = lrn
        self.conv1 = nn.Conv2d(3, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 5, padding=2)
        self.fc1, self.fc2, self.out = nn.Linear(64 * 7 * 7, 384), nn.Linear(384, 192), nn.Linear(192, classes)
    def forward(self, x):
        x = x.permute(0, 3, 1, 2)
        x = self.lrn(F.max_pool2d(F.relu(self.conv1(x)), 3, 2, ceil_mode=True))
        x = self.lrn(F.max_pool2d(F.relu(self.conv2(x)), 3, 2, ceil_mode=True))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.out(F.relu(self.fc2(x)))

class Unit(nn.Module):
    def __init__(self, cin, cout, k, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, affine=False)
    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))

class Inc(nn.Module):
    def __init__(self, cin, c1, c3):
        super().__init__()
        self.b1, self.b3 = Unit(cin, c1, 1), Unit(cin, c3, 3)
    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x)], 1)

class Down(nn.Module):
    def __init__(self, cin, c3):
        super().__init__()
        self.conv = Unit(cin, c3, 3, 2)
    def forward(self, x):
        return torch.cat([self.conv(x), F.max_pool2d(x, 3, 2, ceil_mode=True)], 1)

class InceptionSmall(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.net = nn.Sequential(Unit(3, 96, 3), Inc(96, 32, 32), Inc(64, 32, 48), Down(80, 80),
            Inc(160, 112, 48), Inc(160, 96, 64), Inc(160, 80, 80), Inc(160, 48, 96), Down(144, 96),
            Inc(240, 176, 160), Inc(336, 176, 160))
        self.out = nn.Linear(336, classes)
    def forward(self, x):
        return self.out(self.net(x.permute(0, 3, 1, 2)).mean((2, 3)))

def whiten(x):  # [b, h, w, c] float
    flat = x.flatten(1)
    centered = flat - flat.mean(1, keepdim=True)
    std = centered.square().mean(1, keepdim=True).sqrt().clamp_min(1.0 / flat.shape[1] ** 0.5)
    return (centered / std).reshape(x.shape)

def make_model(name):
    return {"mlp-1x512": lambda: Mlp(28 * 28 * 3), "alexnet-small": AlexNetSmall,
            "alexnet-small+band": lambda: AlexNetSmall(lrn=lrn_band),
            "inception-small": InceptionSmall}[name]()

def lr_of(name):
    return 0.1 if name.startswith("inception") else 0.01

