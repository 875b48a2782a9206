"""The built-in strategies: how a swarm's objective becomes agents and tasks.

Planned strategies ask Claude for a plan, steered by the guidance text here. Template strategies
(the spec's "Custom Strategies") build fixed agents and tasks without a planning call. These are
the source of the global `Strategy` rows (synced after every migrate, see swarms/apps.py); the
planner reads the rows, and users add their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskTemplate:
    name: str
    description: str
    type: str
    agent_type: str
    capabilities: tuple[str, ...] = ()
    priority: str = "normal"
    depends_on: tuple[int, ...] = ()  # indexes into the template's task list
    requires_approval: bool = False  # its output waits for a person's approval


@dataclass(frozen=True)
class BuiltinStrategy:
    name: str
    guidance: str = ""
    agents: tuple[tuple[str, str], ...] = ()  # (type, name) for templates
    tasks: tuple[TaskTemplate, ...] = field(default=())
    description: str = ""

    @property
    def is_template(self) -> bool:
        return bool(self.tasks)

    def template(self) -> dict[str, Any] | None:
        """The template as a plan in the submit_plan shape (what a `Strategy` row stores)."""
        if not self.is_template:
            return None
        return {
            "agents": [{"type": kind, "name": name} for kind, name in self.agents],
            "tasks": [
                {
                    "name": t.name,
                    "description": t.description,
                    "type": t.type,
                    "priority": t.priority,
                    "agentType": t.agent_type,
                    "capabilities": list(t.capabilities),
                    "dependencies": list(t.depends_on),
                    **({"requiresApproval": True} if t.requires_approval else {}),
                }
                for t in self.tasks
            ],
        }


PLANNED = {
    "auto": "Choose the agents and steps the objective needs.",
    "research": "Favour researchers and analysts: gather sources, compare, then synthesise findings.",
    "development": "Design first, then implement in coherent pieces, then test and review the code.",
    "analysis": "Collect and examine the relevant data, analyse it from several angles, report conclusions.",
    "testing": "Work out what must be tested, write the tests, run through edge cases, report coverage gaps.",
    "review": "Review the subject for correctness, security, performance and clarity; list concrete fixes.",
}

MICROSERVICES = BuiltinStrategy(
    "microservices",
    description="Architecture, API gateway and service mesh, then integration tests (5 agents, 4 tasks).",
    agents=(
        ("architect", "microservices-architect"),
        ("coder", "api-developer"),
        ("coder", "service-developer"),
        ("specialist", "docker-specialist"),
        ("tester", "integration-tester"),
    ),
    tasks=(
        TaskTemplate(
            "Service Architecture Design",
            "Design microservices architecture and service boundaries",
            "system-design",
            "architect",
            ("architecture",),
            "high",
        ),
        TaskTemplate(
            "API Gateway Implementation",
            "Implement API gateway for service routing",
            "coding",
            "coder",
            ("codeGeneration",),
            depends_on=(0,),
        ),
        TaskTemplate(
            "Service Mesh Configuration",
            "Configure service mesh for inter-service communication",
            "configuration",
            "specialist",
            ("docker", "kubernetes"),
            depends_on=(0,),
        ),
        TaskTemplate(
            "Integration Testing",
            "Create comprehensive integration tests",
            "testing",
            "tester",
            ("testing",),
            depends_on=(1, 2),
        ),
    ),
)

AI_TRAINING = BuiltinStrategy(
    "ai-training",
    description="Data, model design, training pipeline, validation and deployment (4 agents, 5 tasks).",
    agents=(
        ("researcher", "data-scientist"),
        ("coder", "ml-engineer"),
        ("analyst", "model-validator"),
        ("specialist", "deployment-engineer"),
    ),
    tasks=(
        TaskTemplate(
            "Data Collection & Preprocessing",
            "Collect and preprocess training data",
            "data-processing",
            "researcher",
            priority="high",
        ),
        TaskTemplate(
            "Model Architecture Design",
            "Design neural network architecture",
            "model-design",
            "researcher",
            depends_on=(0,),
        ),
        TaskTemplate(
            "Training Pipeline Implementation",
            "Implement training pipeline with monitoring",
            "coding",
            "coder",
            ("codeGeneration",),
            depends_on=(1,),
        ),
        TaskTemplate(
            "Model Validation & Testing",
            "Validate model performance and accuracy",
            "validation",
            "analyst",
            ("validation",),
            depends_on=(2,),
        ),
        TaskTemplate(
            "Model Deployment",
            "Deploy model to production environment",
            "deployment",
            "specialist",
            ("deployment",),
            depends_on=(3,),
        ),
    ),
)

SECURITY_AUDIT = BuiltinStrategy(
    "security-audit",
    description="Threat model, code audit, pen-test plan, hardening and an audit report (4 agents, 5 tasks).",
    agents=(
        ("security-auditor", "security-auditor"),
        ("reviewer", "code-reviewer"),
        ("performance-optimizer", "hardening-engineer"),
        ("documentation-specialist", "report-writer"),
    ),
    tasks=(
        TaskTemplate(
            "Threat Modelling",
            "Identify assets, trust boundaries and likely attackers for the system under audit",
            "analysis",
            "security-auditor",
            ("securityAnalysis",),
            "high",
        ),
        TaskTemplate(
            "Code and Dependency Audit",
            "Review the code and its dependencies for known vulnerability classes",
            "review",
            "reviewer",
            ("codeReview",),
            depends_on=(0,),
        ),
        TaskTemplate(
            "Penetration Test Plan",
            "Plan penetration tests against the threats found, with expected results",
            "testing",
            "security-auditor",
            ("penetrationTesting",),
            depends_on=(0,),
        ),
        TaskTemplate(
            "Hardening Recommendations",
            "Recommend configuration and code hardening with their performance cost",
            "analysis",
            "performance-optimizer",
            ("performanceAnalysis",),
            depends_on=(1, 2),
        ),
        TaskTemplate(
            "Audit Report",
            "Write the audit report: findings by severity, evidence and remediation plan",
            "custom",
            "documentation-specialist",
            ("technicalWriting",),
            depends_on=(1, 2, 3),
        ),
    ),
)

STRATEGIES: dict[str, BuiltinStrategy] = {
    name: BuiltinStrategy(name, guidance, description=f"Planned by Claude. {guidance}")
    for name, guidance in PLANNED.items()
}
STRATEGIES.update({s.name: s for s in (MICROSERVICES, AI_TRAINING, SECURITY_AUDIT)})
