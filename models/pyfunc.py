"""MLflow pyfunc wrapper: the registered model scores a reviews table (e.g. a seller's CSV).

Logged as "models from code" (this file is the model definition), so nothing is pickled.
The nightly batch path (inference.batch) loads the same wrapped FraudLensModel and streams
whole marketplaces; this wrapper is for ``mlflow models predict`` and ad-hoc use.
"""

from __future__ import annotations

import mlflow.models
import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

# What a seller can send: text and rating at least; ids and dates when it has them.
SELLER_REVIEWS_SIGNATURE = ModelSignature(
    inputs=Schema([
        ColSpec("string", "text"),
        ColSpec("long", "rating"),
        *(ColSpec("string", name, required=False)
          for name in ("review_id", "account_id", "product_id", "order_id", "created_at")),
    ]),
    outputs=Schema([ColSpec("string", "review_id"), ColSpec("double", "fraud_score")]),
)
SELLER_REVIEWS_EXAMPLE = pd.DataFrame({"text": ["Kettle boils fast, lid a bit stiff.", "Amazing product!!! Highly recommend"],
                                       "rating": [4, 5]})


class FraudLensPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from fraudlens.models.fraud_model import FraudLensModel

        self.model = FraudLensModel.load(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """model_input: reviews with at least text and rating; missing ids/dates are filled in."""
        from fraudlens.marketplace.seller_reviews import reviews_from_frame

        tables = {"reviews": reviews_from_frame(pd.DataFrame(model_input))}
        scores = self.model.score(tables)["review"]
        return scores.rename(columns={"score": "fraud_score"})


mlflow.models.set_model(FraudLensPyfunc())
