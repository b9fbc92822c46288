"""A minimal third-party plugin: one analysis stage and one region scheme."""

import pandas as pd

from nqpspatial.stage import Analysis, StageOutput


class CountsStage(Analysis):
    """Counts regions per year and multiplies the count (a toy analysis)."""

    name = "example_counts"
    config_keys = {"multiplier": 1}
    requires = ()
    optional = True
    order = 150

    def run(self, ctx, cfg):
        counts = ctx.indices.groupby(ctx.year).size().rename("regions").reset_index()
        counts["scaled"] = counts["regions"] * cfg["multiplier"]
        counts = counts.rename(columns={ctx.year: "year"})
        return StageOutput(
            tables={"example_counts": counts}, info={"multiplier": cfg["multiplier"]}, notes=["counted regions"]
        )


counts_stage = CountsStage()


class HalvesScheme:
    """Regions sorted by id: first half 'A', second half 'B'."""

    name = "alphabet-halves"
    label_en = "Alphabetical halves"
    label_zh = "字母两半"
    example_regions = ["a", "b", "c", "d"]

    def load(self, regions):
        regions = list(regions if regions is not None else self.example_regions)
        order = sorted(regions)
        half = len(order) / 2
        return pd.Series(["A" if order.index(r) < half else "B" for r in regions], index=regions, name="group")


halves_scheme = HalvesScheme()
