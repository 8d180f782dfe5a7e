"""Neural-network building blocks: ``Module`` and ``Parameter``, layers, losses, ``init`` and ``functional``."""

from . import functional, init
from .layers import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    L1Loss,
    LeakyReLU,
    Linear,
    MSELoss,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .module import Module, Parameter, Sequential

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Flatten", "Identity", "L1Loss", "LeakyReLU",
    "Linear", "MSELoss", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional",
    "init",
]
