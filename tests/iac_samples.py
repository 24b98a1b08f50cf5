"""Generated infrastructure-as-code samples: each with planted plaintext secrets (found, with their resource and
attribute) and encrypted or referenced values (left alone). Every value is made at run time."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import yaml
from tokens import ALNUM, TokenFactory

SIG_KEY = "4dabf18193072939515e22adb298388d"
SIG = "1b47061264138c4ac30d75fd1eb44270"


@dataclass
class Sample:
    """Files to write, the secrets planted ((secret, resource, attribute)), and the values to leave alone."""

    files: dict[str, str] = field(default_factory=dict)
    planted: list[tuple[str, str, str]] = field(default_factory=list)
    alone: list[str] = field(default_factory=list)


def _secret(tokens: TokenFactory) -> str:
    return tokens.clean_chars(ALNUM, 22)


def pulumi(tokens: TokenFactory, n: int, sample: Sample) -> None:
    resources = []
    for i in range(n):
        urn = f"urn:pulumi:prod::shop::aws:rds/instance:Instance::db{i}"
        plain, named = _secret(tokens), _secret(tokens)
        cipher = "v1:" + base64.b64encode(tokens.clean_chars(ALNUM, 48).encode()).decode()
        resources.append(
            {
                "urn": urn,
                "type": "aws:rds/instance:Instance",
                "inputs": {"password": {SIG_KEY: SIG, "ciphertext": cipher}, "username": "app"},
                "outputs": {
                    "masterPassword": {SIG_KEY: SIG, "plaintext": json.dumps(plain)},
                    "apiToken": named,
                    "endpoint": f"db{i}.internal:5432",
                },
            }
        )
        sample.planted += [(plain, urn, "outputs.masterPassword"), (named, urn, "outputs.apiToken")]
        sample.alone.append(cipher)
    salt = "v1:" + base64.b64encode(tokens.clean_chars(ALNUM, 24).encode()).decode()
    sample.alone.append(salt)
    doc = {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-01-01T00:00:00Z", "version": "v3.140.0"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": salt}},
            "resources": resources,
        },
    }
    sample.files["pulumi/stack-prod.json"] = json.dumps(doc, indent=4)


def cloudformation(tokens: TokenFactory, n: int, sample: Sample) -> None:
    lines = ['AWSTemplateFormatVersion: "2010-09-09"', "Parameters:"]
    for i in range(n):
        default = _secret(tokens)
        lines += [f"  AdminPassword{i}:", "    Type: String", "    NoEcho: true", f"    Default: {default}"]
        sample.planted.append((default, f"Parameters.AdminPassword{i}", "Default"))
    lines += ["  SafeParam:", "    Type: String", "    NoEcho: true", "Resources:"]
    for i in range(n):
        literal, env_value = _secret(tokens), _secret(tokens)
        ref = f"{{{{resolve:secretsmanager:prod/db{i}:SecretString:password}}}}"
        ssm = f"{{{{resolve:ssm-secure:/prod/api{i}/token:1}}}}"
        lines += [
            f"  Db{i}:",
            "    Type: AWS::RDS::DBInstance",
            "    Properties:",
            "      MasterUsername: admin",
            f"      MasterUserPassword: {literal}",
            f"  DbRef{i}:",
            "    Type: AWS::RDS::DBInstance",
            "    Properties:",
            f"      MasterUserPassword: '{ref}'",
            f"  DbParam{i}:",
            "    Type: AWS::RDS::DBInstance",
            "    Properties:",
            f"      MasterUserPassword: !Ref AdminPassword{i}",
            f"      DBName: !Sub '${{AWS::StackName}}-{i}'",
            f"  Task{i}:",
            "    Type: AWS::ECS::TaskDefinition",
            "    Properties:",
            "      ContainerDefinitions:",
            "        - Name: app",
            "          Environment:",
            "            - Name: API_TOKEN",
            f"              Value: {env_value}",
            "            - Name: SERVICE_TOKEN",
            f"              Value: '{ssm}'",
        ]
        sample.planted += [
            (literal, f"Db{i} (AWS::RDS::DBInstance)", "Properties.MasterUserPassword"),
            (env_value, f"Task{i} (AWS::ECS::TaskDefinition)", "Properties.ContainerDefinitions.0.Environment.0.Value"),
        ]
        sample.alone += [ref, ssm, f"AdminPassword{i}"]
    sample.files["cfn/stack.yaml"] = "\n".join(lines) + "\n"
    # The same template as JSON, with long-form intrinsic functions.
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Key": {"Type": "String", "NoEcho": "true"}},
        "Resources": {
            "Cache": {
                "Type": "AWS::ElastiCache::ReplicationGroup",
                "Properties": {"AuthToken": {"Ref": "Key"}, "Description": "cache"},
            },
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"SecretString": {"Fn::Sub": '{"password":"${Key}"}'}},
            },
        },
    }
    literal = _secret(tokens)
    cache2 = {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": {"AuthToken": literal}}
    template["Resources"]["Cache2"] = cache2
    sample.planted.append((literal, "Cache2 (AWS::ElastiCache::ReplicationGroup)", "Properties.AuthToken"))
    sample.files["cfn/cache.template.json"] = json.dumps(template, indent=2)


def kubernetes(tokens: TokenFactory, n: int, sample: Sample) -> None:
    docs = []
    for i in range(n):
        data_value, string_value, env_value = _secret(tokens), _secret(tokens), _secret(tokens)
        sealed = base64.b64encode(tokens.clean_chars(ALNUM, 96).encode()).decode()
        docs += [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"db{i}", "namespace": "prod"},
                "type": "Opaque",
                "data": {
                    "username": base64.b64encode(b"app").decode(),
                    "password": base64.b64encode(data_value.encode()).decode(),
                },
                "stringData": {"api-token": string_value, "host": f"db{i}.prod.svc"},
            },
            {
                "apiVersion": "bitnami.com/v1alpha1",
                "kind": "SealedSecret",
                "metadata": {"name": f"sealed{i}"},
                "spec": {"encryptedData": {"password": sealed}},
            },
            {
                "apiVersion": "external-secrets.io/v1beta1",
                "kind": "ExternalSecret",
                "metadata": {"name": f"ext{i}"},
                "spec": {"data": [{"secretKey": "password", "remoteRef": {"key": f"prod/db{i}", "property": "pw"}}]},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"app{i}"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "env": [
                                        {"name": "DB_PASSWORD", "value": env_value},
                                        {
                                            "name": "API_TOKEN",
                                            "valueFrom": {"secretKeyRef": {"name": f"db{i}", "key": "api-token"}},
                                        },
                                    ],
                                }
                            ]
                        }
                    }
                },
            },
        ]
        sample.planted += [
            (data_value, f"Secret/prod/db{i}", "data.password"),
            (string_value, f"Secret/prod/db{i}", "stringData.api-token"),
            (env_value, f"Deployment/app{i}", "spec.template.spec.containers.0.env.0.value"),
        ]
        sample.alone.append(sealed)
    sample.files["k8s/rendered.yaml"] = yaml.safe_dump_all(docs, sort_keys=False)
    password = _secret(tokens)
    values = {
        "auth": {"password": password, "existingSecret": "", "passwordKey": "password"},
        "image": {"tag": "1.2.3"},
        "externalDatabase": {"existingSecret": "db-credentials", "password": ""},
    }
    sample.files["chart/values.yaml"] = yaml.safe_dump(values, sort_keys=False)
    sample.planted.append((password, "values", "auth.password"))
    sample.files["chart/templates/secret.yaml"] = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n"
        "  password: {{ .Values.auth.password | b64enc | quote }}\n"
    )


def every_kind(tokens: TokenFactory, n: int = 5) -> Sample:
    sample = Sample()
    pulumi(tokens, n, sample)
    cloudformation(tokens, n, sample)
    kubernetes(tokens, n, sample)
    return sample


def terraform_plan(tokens: TokenFactory, sample: Sample, format_version: str = "1.2") -> dict[str, object]:
    """``terraform show -json`` of a plan: sensitive values in resource_changes, planned_values, output_changes,
    variables and the configuration, beside values that are neither sensitive nor secret-bearing."""
    db, tag, out, var, legacy, const = (_secret(tokens) for _ in range(6))
    sample.alone += ["eu-west-1", "admin"]
    sample.planted += [
        (db, "aws_db_instance.db", "password"),
        (tag, "aws_db_instance.db", "tags.owner_key"),
        (out, "output.conn", "value"),
        (var, "var.db_password", "value"),
        (legacy, "var.legacy", "default"),
        (const, "module.app.aws_db_instance.db2", "password.constant_value"),
    ]
    after = {"password": db, "username": "admin", "tags": {"owner_key": tag, "env": "prod"}}
    return {
        "format_version": format_version,
        "terraform_version": "1.9.5",
        "variables": {"db_password": {"value": var}, "region": {"value": "eu-west-1"}},
        "planned_values": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_db_instance.db",
                        "mode": "managed",
                        "type": "aws_db_instance",
                        "name": "db",
                        "values": after,
                        "sensitive_values": {"password": True, "tags": {"owner_key": True}},
                    }
                ]
            }
        },
        "resource_changes": [
            {
                "address": "aws_db_instance.db",
                "mode": "managed",
                "type": "aws_db_instance",
                "name": "db",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": after,
                    "after_unknown": {"id": True, "arn": True},
                    "before_sensitive": False,
                    "after_sensitive": {"password": True, "tags": {"owner_key": True}},
                },
            }
        ],
        "output_changes": {
            "conn": {
                "actions": ["create"],
                "before": None,
                "after": out,
                "after_unknown": False,
                "before_sensitive": False,
                "after_sensitive": True,
            }
        },
        "configuration": {
            "root_module": {
                "variables": {"db_password": {"sensitive": True}, "legacy": {"default": legacy, "sensitive": True}},
                "module_calls": {
                    "app": {
                        "module": {
                            "resources": [
                                {
                                    "address": "aws_db_instance.db2",
                                    "type": "aws_db_instance",
                                    "expressions": {"password": {"constant_value": const}},
                                }
                            ]
                        }
                    }
                },
            }
        },
    }
