"""Study configuration: YAML -> typed, validated model.

Paths in the YAML are relative to the config file. Unknown keys and wrong types are errors that
name the key. YAML is loaded with ``yaml.safe_load``: tags that construct Python objects are
refused.
"""

from bmsc_dge.config._base import (
    CURATED,
    DEFAULT_COLLECTIONS,
    Collection,
    Species,
    VariableType,
    builtin_collections,
)
from bmsc_dge.config._contrast import Contrast
from bmsc_dge.config._load import config_to_dict, load_config, validate_config
from bmsc_dge.config._meta import MetaConfig, MetaStudy, is_meta_config, load_meta_config
from bmsc_dge.config._sections import (
    DEConfig,
    ExecutionConfig,
    FilterConfig,
    GeneSetConfig,
    PseudobulkConfig,
    TargetConfig,
    TargetWeights,
    TximportConfig,
)
from bmsc_dge.config._study import StudyConfig

__all__ = [
    "CURATED",
    "DEFAULT_COLLECTIONS",
    "Collection",
    "Contrast",
    "DEConfig",
    "ExecutionConfig",
    "FilterConfig",
    "GeneSetConfig",
    "MetaConfig",
    "MetaStudy",
    "PseudobulkConfig",
    "Species",
    "StudyConfig",
    "TargetConfig",
    "TargetWeights",
    "TximportConfig",
    "VariableType",
    "builtin_collections",
    "config_to_dict",
    "is_meta_config",
    "load_config",
    "load_meta_config",
    "validate_config",
]
