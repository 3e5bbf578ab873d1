"""The ``data/`` folder of a fitted model, written as Spark's own writer writes it, without a job.

Spark's model writers put the fitted values in one row of a parquet file (``createDataFrame(Seq(
data)).write.parquet(...)``), one Spark job each. Here the same row is read from the model on the
driver and written by pyarrow, with what Spark's reader needs to give back the same types: the
Catalyst schema as JSON under the footer key ``org.apache.spark.sql.parquet.row.metadata`` (where
Spark finds the ML vector and matrix UDTs again), the same column nullability, and lists in the
standard three-level layout (``list``/``element``) that Spark itself writes.

Each supported class names the Java writer that Spark uses for it: if the running Spark has
another writer for that class, the format may have changed and the class is written by Spark.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Callable

SCHEMA_KEY = "org.apache.spark.sql.parquet.row.metadata"
VERSION_KEY = "org.apache.spark.version"


def _vector() -> Any:
    from pyspark.ml.linalg import VectorUDT

    return VectorUDT()


def _matrix() -> Any:
    from pyspark.ml.linalg import MatrixUDT

    return MatrixUDT()


def _standard_scaler(model: Any) -> list[tuple[str, Any, bool, Any]]:
    return [("std", _vector(), True, model.std), ("mean", _vector(), True, model.mean)]


def _logistic_regression(model: Any) -> list[tuple[str, Any, bool, Any]]:
    from pyspark.sql.types import BooleanType, IntegerType

    # A private val of the Scala model; its accessor is public in the bytecode.
    accessor = "org$apache$spark$ml$classification$LogisticRegressionModel$$isMultinomial"
    multinomial = getattr(model._java_obj, accessor)
    return [("numClasses", IntegerType(), False, model.numClasses),
            ("numFeatures", IntegerType(), False, model.numFeatures),
            ("interceptVector", _vector(), True, model.interceptVector),
            ("coefficientMatrix", _matrix(), True, model.coefficientMatrix),
            ("isMultinomial", BooleanType(), False, bool(multinomial()))]


def _linear_regression(model: Any) -> list[tuple[str, Any, bool, Any]]:
    from pyspark.sql.types import DoubleType

    return [("intercept", DoubleType(), False, float(model.intercept)),
            ("coefficients", _vector(), True, model.coefficients),
            ("scale", DoubleType(), False, float(model.scale))]


# Java model class -> (the Java writer Spark uses for it, the row's columns).
DATA: dict[str, tuple[str, Callable[[Any], list[tuple[str, Any, bool, Any]]]]] = {
    "org.apache.spark.ml.feature.StandardScalerModel":
        ("org.apache.spark.ml.feature.StandardScalerModel$StandardScalerModelWriter",
         _standard_scaler),
    "org.apache.spark.ml.classification.LogisticRegressionModel":
        ("org.apache.spark.ml.classification.LogisticRegressionModel$LogisticRegressionModelWriter",
         _logistic_regression),
    "org.apache.spark.ml.regression.LinearRegressionModel":
        ("org.apache.spark.ml.util.GeneralMLWriter", _linear_regression),  # format "internal",
}


def _arrow_type(data_type: Any) -> Any:
    """The arrow type Spark's parquet writer would store a Catalyst type as."""
    import pyarrow as pa
    from pyspark.sql import types as T

    if isinstance(data_type, T.UserDefinedType):
        return _arrow_type(data_type.sqlType())
    if isinstance(data_type, T.StructType):
        return pa.struct([pa.field(f.name, _arrow_type(f.dataType), nullable=f.nullable)
                          for f in data_type.fields])
    if isinstance(data_type, T.ArrayType):
        return pa.list_(pa.field("element", _arrow_type(data_type.elementType),
                                 nullable=data_type.containsNull))
    simple = {T.ByteType: pa.int8(), T.ShortType: pa.int16(), T.IntegerType: pa.int32(),
              T.LongType: pa.int64(), T.DoubleType: pa.float64(), T.FloatType: pa.float32(),
              T.BooleanType: pa.bool_(), T.StringType: pa.string()}
    return simple[type(data_type)]  # KeyError: a type no supported class uses


def _arrow_value(data_type: Any, value: Any) -> Any:
    from pyspark.sql import types as T

    if value is None:
        return None
    if isinstance(data_type, T.UserDefinedType):
        return _arrow_value(data_type.sqlType(), data_type.serialize(value))
    if isinstance(data_type, T.StructType):
        return {f.name: _arrow_value(f.dataType, v) for f, v in zip(data_type.fields, value)}
    if isinstance(data_type, T.ArrayType):
        return [_arrow_value(data_type.elementType, v) for v in value]
    return value


def _json(value: Any) -> str:
    import json

    # Catalyst's own key order (pyspark's .json() sorts keys); readers do not care either way.
    return json.dumps(value, separators=(",", ":"))


def write_data(model: Any, java_class: str, folder: str, spark_version: str) -> None:
    """Write ``folder/data`` for ``model`` (a class of :data:`DATA`) as Spark's writer would.

    Raises:
        NotNative: pyarrow is not installed (the ``spark`` extra brings it).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        from autolog.integrations.spark.native_writer import NotNative

        raise NotNative("pyarrow is not installed") from exc
    from pyspark.sql.types import StructField, StructType

    columns = DATA[java_class][1](model)
    schema = StructType([StructField(n, t, nullable) for n, t, nullable, _ in columns])
    arrow_schema = pa.schema([pa.field(n, _arrow_type(t), nullable=nullable)
                              for n, t, nullable, _ in columns],
                             metadata={SCHEMA_KEY: _json(schema.jsonValue()),
                                       VERSION_KEY: spark_version})
    arrays = [pa.array([_arrow_value(t, v)], type=_arrow_type(t)) for _, t, _, v in columns]
    table = pa.Table.from_arrays(arrays, schema=arrow_schema)
    data = os.path.join(folder, "data")
    os.makedirs(data)
    pq.write_table(table, os.path.join(data, f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"),
                   compression="snappy")
    open(os.path.join(data, "_SUCCESS"), "w").close()
