//! The pure-Rust `tract` engine: no shared library to ship, slower than ONNX
//! Runtime. Each session keeps one optimised plan per input shape it has
//! seen; models with static input shapes get theirs at load time, so a bad
//! model fails there rather than on the first request.

use std::sync::Arc;

use tract_onnx::prelude::{
    tract_ndarray, Datum, Framework, InferenceFact, InferenceModel, InferenceModelExt,
    IntoRunnable, IntoTValue, TValue, TVec, TypedSimplePlan,
};

use crate::runtime::interface::{Runtime, RuntimeKind, Session, Tensor};
use crate::VisionError;

/// Distinct input shapes a session keeps a plan for; beyond that the oldest
/// is dropped (the pipeline feeds each model one fixed shape).
const MAX_PLANS: usize = 4;

/// `tract-onnx`, single-threaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct TractRuntime;

impl TractRuntime {
    pub fn new() -> Self {
        Self
    }
}

impl Runtime for TractRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Tract
    }

    fn load(&self, name: &str, onnx: &[u8]) -> Result<Box<dyn Session>, VisionError> {
        let model = tract_onnx::onnx()
            .model_for_read(&mut &onnx[..])
            .map_err(|e| VisionError::Model {
                model: name.to_owned(),
                detail: format!("tract could not read the model: {e:#}"),
            })?;
        let mut session = TractSession {
            name: name.to_owned(),
            n_inputs: model.inputs.len(),
            model,
            plans: Vec::new(),
        };
        if let Some(shapes) = session.declared_input_shapes() {
            session
                .plan_for(&shapes)
                .map_err(|detail| VisionError::Model {
                    model: name.to_owned(),
                    detail,
                })?;
        }
        Ok(Box::new(session))
    }
}

type Plan = Arc<TypedSimplePlan>;

struct TractSession {
    name: String,
    n_inputs: usize,
    /// The model as read, kept to build plans for new input shapes.
    model: InferenceModel,
    plans: Vec<(Vec<Vec<usize>>, Plan)>,
}

impl TractSession {
    /// The input shapes the model declares, if every dimension is fixed.
    fn declared_input_shapes(&self) -> Option<Vec<Vec<usize>>> {
        (0..self.n_inputs)
            .map(|i| {
                let fact = self.model.input_fact(i).ok()?;
                let shape = fact.shape.as_concrete_finite().ok()??;
                Some(shape.to_vec())
            })
            .collect()
    }

    fn plan_for(&mut self, shapes: &[Vec<usize>]) -> Result<Plan, String> {
        if let Some((_, plan)) = self.plans.iter().find(|(s, _)| s.as_slice() == shapes) {
            return Ok(plan.clone());
        }
        let mut model = self.model.clone();
        for (i, shape) in shapes.iter().enumerate() {
            model
                .set_input_fact(i, InferenceFact::dt_shape(f32::datum_type(), shape.clone()))
                .map_err(|e| format!("input {i} cannot take shape {shape:?}: {e:#}"))?;
        }
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| format!("tract could not plan the model for inputs {shapes:?}: {e:#}"))?;
        if self.plans.len() >= MAX_PLANS {
            self.plans.remove(0);
        }
        self.plans.push((shapes.to_vec(), plan.clone()));
        Ok(plan)
    }
}

impl Session for TractSession {
    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, VisionError> {
        if inputs.len() != self.n_inputs {
            return Err(VisionError::Inference(format!(
                "{}: the model takes {} inputs, got {}",
                self.name,
                self.n_inputs,
                inputs.len()
            )));
        }
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape.clone()).collect();
        let plan = self
            .plan_for(&shapes)
            .map_err(|e| VisionError::Inference(format!("{}: {e}", self.name)))?;
        let name = &self.name;
        let values = inputs
            .into_iter()
            .map(|t| {
                tract_ndarray::ArrayD::from_shape_vec(t.shape, t.data)
                    .map(|a| tract_onnx::prelude::Tensor::from(a).into_tvalue())
                    .map_err(|e| VisionError::Inference(format!("{name}: bad input: {e}")))
            })
            .collect::<Result<TVec<TValue>, _>>()?;
        let outputs = plan
            .run(values)
            .map_err(|e| VisionError::Inference(format!("{name}: {e:#}")))?;
        outputs
            .iter()
            .enumerate()
            .map(|(i, value)| {
                let as_f32 = value
                    .cast_to::<f32>()
                    .map_err(|e| VisionError::Inference(format!("{name}: output {i}: {e:#}")))?;
                let view = as_f32
                    .to_plain_array_view::<f32>()
                    .map_err(|e| VisionError::Inference(format!("{name}: output {i}: {e:#}")))?;
                Tensor::new(view.shape().to_vec(), view.iter().copied().collect())
            })
            .collect()
    }
}
