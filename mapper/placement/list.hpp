// The registered placement algorithms (mapper/placement.hpp): one line each, the name of the
// PlacementAlgorithm constant its file in this folder defines. Order = order in docs and --help.
SPIKECHIP_PLACEMENT(kPlacementNaive)
SPIKECHIP_PLACEMENT(kPlacementRandom)
SPIKECHIP_PLACEMENT(kPlacementSnake)
SPIKECHIP_PLACEMENT(kPlacementAnneal)
SPIKECHIP_PLACEMENT(kPlacementMetis)
SPIKECHIP_PLACEMENT(kPlacementMetisAnneal)
