"""Built-in datasets (keras.datasets)."""

from xkeras.datasets import cifar10, fashion_mnist, mnist

__all__ = ["cifar10", "fashion_mnist", "mnist"]
