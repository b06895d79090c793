"""MLflow pyfunc of the review text model: text (+ rating, review_id) -> review_id, fraud_score.

Logged as "models from code" (this file is the model definition), so nothing is pickled; the
model itself is the ``text_model`` artifact, a directory ``CombinedTextModel.save`` wrote.
"""

from __future__ import annotations

import mlflow.models
import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

TEXT_MODEL_SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", "text"), ColSpec("double", "rating", required=False),
                   ColSpec("string", "review_id", required=False)]),
    outputs=Schema([ColSpec("string", "review_id"), ColSpec("double", "fraud_score")]),
)


class FraudLensTextPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from fraudlens.models.text_model import CombinedTextModel

        self.model = CombinedTextModel.load(context.artifacts["text_model"])

    def predict(self, context, model_input, params=None):
        frame = pd.DataFrame(model_input)
        texts = frame["text"].tolist()
        ratings = frame["rating"].tolist() if "rating" in frame.columns else None
        ids = frame["review_id"].astype(str) if "review_id" in frame.columns else pd.Series(range(len(frame))).astype(str)
        return pd.DataFrame({"review_id": ids.to_numpy(), "fraud_score": self.model.predict_proba(texts, ratings)})


mlflow.models.set_model(FraudLensTextPyfunc())
