"""Variables and instances of the local Geocube (rules of a real Geocube v1.0.3, geocube-api.md)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

import grpc

from geocube_client.pb import geocube_pb2 as pb
from geocube_client.server_store import (
    LocalDatabase,
    check_dformat,
    check_instance_name,
    check_uuid,
    check_variable_name,
    compile_pattern,
    dumps,
    fail,
    nan_to_null,
    new_id,
    not_found,
    null_to_nan,
    paginate,
)


def create_variable(db: LocalDatabase, v: pb.Variable) -> str:
    check_variable_name(v.name)
    if not v.bands or not all(v.bands):
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"variable {v.name}: at least one band name is needed")
    if v.resampling_alg == pb.UNDEFINED:
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"variable {v.name}: resampling_alg is UNDEFINED")
    if v.dformat.dtype == pb.DataFormat.UNDEFINED:
        fail(grpc.StatusCode.UNKNOWN, f"variable {v.name}: DType UNDEFINED not found")  # as the real server
    check_dformat(v.dformat, f"variable {v.name}: dformat")
    variable_id = new_id()
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM variable WHERE name = ?", (v.name,)).fetchone():
            fail(
                grpc.StatusCode.ALREADY_EXISTS,
                f"Variable with name: {v.name}",
                resource_name=v.name,
                resource_type="Variable",
            )
        df = v.dformat
        conn.execute(
            "INSERT INTO variable VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (variable_id, v.name, v.unit, v.description, df.dtype, nan_to_null(df.no_data), df.min_value,
             df.max_value, dumps(list(v.bands)), v.palette, v.resampling_alg),
        )  # fmt: skip
    return variable_id


def instantiate_variable(
    db: LocalDatabase, variable_id: str, name: str, metadata: Mapping[str, str]
) -> pb.Instance:
    check_uuid(variable_id)
    check_instance_name(name)
    instance = pb.Instance(id=new_id(), name=name, metadata=dict(metadata))
    with db.transaction() as conn:
        variable = conn.execute("SELECT name FROM variable WHERE id = ?", (variable_id,)).fetchone()
        if variable is None:
            not_found("Variable", "id", variable_id)
        if conn.execute(
            "SELECT 1 FROM instance WHERE variable_id = ? AND name = ?", (variable_id, name)
        ).fetchone():
            fail(
                grpc.StatusCode.ALREADY_EXISTS,
                f"Instance with name: {variable['name']}:{name}",
                resource_name=f"{variable['name']}:{name}",
                resource_type="Instance",
            )
        conn.execute(
            "INSERT INTO instance VALUES (?, ?, ?, ?)",
            (instance.id, variable_id, name, dumps(dict(metadata))),
        )
    return instance


def _variable_from_row(conn: sqlite3.Connection, row: sqlite3.Row, instance_id: str = "") -> pb.Variable:
    sql, params = "SELECT * FROM instance WHERE variable_id = ?", [row["id"]]
    if instance_id:
        sql, params = sql + " AND id = ?", [*params, instance_id]
    instances = conn.execute(sql + " ORDER BY rowid", params).fetchall()
    return pb.Variable(
        id=row["id"],
        name=row["name"],
        unit=row["unit"],
        description=row["description"],
        dformat=pb.DataFormat(
            dtype=row["dtype"],
            no_data=null_to_nan(row["no_data"]),
            min_value=row["min_value"],
            max_value=row["max_value"],
        ),
        bands=json.loads(row["bands"]),
        palette=row["palette"],
        resampling_alg=row["resampling"],
        instances=[
            pb.Instance(id=i["id"], name=i["name"], metadata=json.loads(i["metadata"])) for i in instances
        ],
    )


def get_variable(db: LocalDatabase, request: pb.GetVariableRequest) -> pb.Variable:
    """By id, name or instance id (then only that instance is returned); NOT_FOUND otherwise."""
    which = request.WhichOneof("identifier")
    if which is None:
        fail(grpc.StatusCode.INVALID_ARGUMENT, "identifier: set one of id, name, instance_id")
    value = getattr(request, which)
    if which != "name":
        check_uuid(value)
    sql = {
        "id": "SELECT * FROM variable WHERE id = ?",
        "name": "SELECT * FROM variable WHERE name = ?",
        "instance_id": "SELECT v.* FROM variable v JOIN instance i ON i.variable_id = v.id WHERE i.id = ?",
    }[which]
    with db.transaction() as conn:
        row = conn.execute(sql, (value,)).fetchone()
        if row is None:
            if which == "instance_id":
                not_found("Variable Instance", "id", value)
            not_found("Variable", which, value)
        return _variable_from_row(conn, row, value if which == "instance_id" else "")


def list_variables(db: LocalDatabase, request: pb.ListVariablesRequest) -> list[pb.Variable]:
    """Variables whose name matches the pattern, by name, paged."""
    matches = compile_pattern(request.name) if request.name else None
    with db.transaction() as conn:
        rows = conn.execute("SELECT * FROM variable ORDER BY name").fetchall()
        variables = [_variable_from_row(conn, r) for r in rows if matches is None or matches(r["name"])]
    return paginate(variables, request.limit, request.page)
