"""Zone analyses: regional inequality, clustering and distribution dynamics by region scheme.

Every analysis works on any region-year column (raw indicator values,
subsystem indices, Haken ``q1``, ``q2``, ``h``: values as stored) and on the
groups of a region scheme (by default the eight comprehensive economic zones
of China's provinces).  See ``docs/zones.md``.

Public API
----------
zones_summary, haken_by_zone
    Zone dynamics: descriptive statistics per period and group.
dagum_gini, dagum_decomposition
    Dagum (1997) Gini decomposition (within, net between, transvariation).
theil_decomposition
    Theil T between/within decomposition (via ``inequality``).
contiguity_graph, cluster_regions, trajectory_features
    SKATER, spatial Ward, max-p and k-means clustering of trajectories.
markov_chains
    Classical, spatial and LISA Markov chains (computed here, checked against ``giddy``).
kernel_density, count_modes
    Gaussian kernel densities by period and group.
convergence, beta_convergence
    Sigma and absolute beta convergence (OLS; optional spatial lag by ML).
obstacle_degree
    Obstacle degree of indicators and dimensions.
ZonesStage
    The optional pipeline stage ``[zones]``.
"""

from .clusters import ClusterResults, ContiguityGraph, cluster_regions, contiguity_graph, trajectory_features
from .convergence import ConvergenceResults, beta_convergence, convergence
from .dagum import DagumCrossSection, DagumResults, dagum_decomposition, dagum_gini
from .density import DensityResults, count_modes, kernel_density
from .markov import MarkovResults, markov_chains
from .obstacles import ObstacleResults, obstacle_degree
from .stage import ZonesStage, zones_stage
from .summary import haken_by_zone, zones_summary
from .theil import TheilResults, theil_decomposition

__all__ = [
    "zones_summary",
    "haken_by_zone",
    "dagum_gini",
    "dagum_decomposition",
    "DagumCrossSection",
    "DagumResults",
    "theil_decomposition",
    "TheilResults",
    "contiguity_graph",
    "ContiguityGraph",
    "cluster_regions",
    "ClusterResults",
    "trajectory_features",
    "markov_chains",
    "MarkovResults",
    "kernel_density",
    "count_modes",
    "DensityResults",
    "convergence",
    "beta_convergence",
    "ConvergenceResults",
    "obstacle_degree",
    "ObstacleResults",
    "ZonesStage",
    "zones_stage",
]
