"""The capture ResNet in torch: a cropped face image -> the 52 ARKit weights (imported only with torch).

A ResNet layout (stem, four stages of BasicBlocks, then one linear layer on the flattened last feature
map instead of a global average pool), narrower and shallower than ResNet-18 so that it trains in
minutes on a CPU. The output is linear; the L2 loss is taken
on it and inference clamps it to [0, 1]. Written here because torchvision does not install beside the
pinned torch.
"""
from __future__ import annotations

import torch
from torch import nn

from ..arkit import NUM_BLENDSHAPES


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class CaptureResNet(nn.Module):
    """(B, 3, S, S) normalised images -> (B, 52) weights (linear; clamp to [0, 1] for use)."""

    def __init__(self, widths=(32, 64, 128, 256), blocks=(2, 2, 2, 2), outputs: int = NUM_BLENDSHAPES,
                 size: int = 128):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1))
        stages, cin = [], widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks)):
            layers = [BasicBlock(cin if j == 0 else width, width, 2 if (i > 0 and j == 0) else 1)
                      for j in range(count)]
            stages.append(nn.Sequential(*layers))
            cin = width
        self.stages = nn.Sequential(*stages)
        side = -(-size // 2 ** (len(widths) + 1))  # the last feature map's side (stem /4, each later stage /2)
        self.head = nn.Linear(cin * side * side, outputs)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():  # zero-init each block's last BN: the blocks start as identities
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Flattened, not pooled: crops are aligned faces, so where a feature is (mouth, eyes) is information.
        return self.head(self.stages(self.stem(x)).flatten(1))
