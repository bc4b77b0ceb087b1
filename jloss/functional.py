"""jloss.functional: the loss functions of ``torch.nn.functional``, same names and arguments.

``import jloss.functional as F`` and port ``F.cross_entropy(...)`` as is. Beyond torch: the
tutorials' ``dice_loss``, ``sigmoid_focal_loss`` (torchvision's formula) and ``softmax_focal_loss``.
"""

from .losses._classification import binary_cross_entropy as binary_cross_entropy
from .losses._classification import (
    binary_cross_entropy_with_logits as binary_cross_entropy_with_logits,
)
from .losses._classification import cross_entropy as cross_entropy
from .losses._classification import nll_loss as nll_loss
from .losses._ctc import ctc_loss as ctc_loss
from .losses._divergence import kl_div as kl_div
from .losses._embedding import cosine_embedding_loss as cosine_embedding_loss
from .losses._embedding import cosine_similarity as cosine_similarity
from .losses._embedding import pairwise_distance as pairwise_distance
from .losses._embedding import triplet_margin_loss as triplet_margin_loss
from .losses._embedding import (
    triplet_margin_with_distance_loss as triplet_margin_with_distance_loss,
)
from .losses._linear_ce import linear_cross_entropy as linear_cross_entropy
from .losses._margin import hinge_embedding_loss as hinge_embedding_loss
from .losses._margin import margin_ranking_loss as margin_ranking_loss
from .losses._margin import multi_margin_loss as multi_margin_loss
from .losses._margin import multilabel_margin_loss as multilabel_margin_loss
from .losses._margin import multilabel_soft_margin_loss as multilabel_soft_margin_loss
from .losses._margin import soft_margin_loss as soft_margin_loss
from .losses._regression import gaussian_nll_loss as gaussian_nll_loss
from .losses._regression import huber_loss as huber_loss
from .losses._regression import l1_loss as l1_loss
from .losses._regression import mse_loss as mse_loss
from .losses._regression import poisson_nll_loss as poisson_nll_loss
from .losses._regression import smooth_l1_loss as smooth_l1_loss
from .losses._segmentation import dice_loss as dice_loss
from .losses._segmentation import sigmoid_focal_loss as sigmoid_focal_loss
from .losses._segmentation import softmax_focal_loss as softmax_focal_loss

#: the 22 loss functions of torch.nn.functional (torch 2.13) that jloss mirrors.
TORCH_LOSSES = (
    "l1_loss", "mse_loss", "cross_entropy", "ctc_loss", "nll_loss", "poisson_nll_loss", "gaussian_nll_loss",
    "kl_div", "binary_cross_entropy", "binary_cross_entropy_with_logits", "margin_ranking_loss",
    "hinge_embedding_loss", "multilabel_margin_loss", "huber_loss", "smooth_l1_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "cosine_embedding_loss", "multi_margin_loss", "triplet_margin_loss",
    "triplet_margin_with_distance_loss", "linear_cross_entropy",
)

__all__ = [
    *TORCH_LOSSES, "cosine_similarity", "pairwise_distance", "dice_loss", "sigmoid_focal_loss",
    "softmax_focal_loss",
]
