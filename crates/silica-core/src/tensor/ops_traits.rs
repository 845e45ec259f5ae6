//! `std::ops` on tensors. Every operator returns `Result<Tensor>`, so chains read
//! `((&a + &b)? * 2.0)?`.

use super::Tensor;
use crate::Result;
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! binary_ops {
    ($($trait:ident $method:ident $tensor_fn:ident $scalar_fn:ident;)*) => {$(
        impl $trait<&Tensor> for &Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: &Tensor) -> Result<Tensor> {
                Tensor::$tensor_fn(&self, rhs)
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: Tensor) -> Result<Tensor> {
                Tensor::$tensor_fn(&self, &rhs)
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: &Tensor) -> Result<Tensor> {
                Tensor::$tensor_fn(&self, rhs)
            }
        }
        impl $trait<Tensor> for &Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: Tensor) -> Result<Tensor> {
                Tensor::$tensor_fn(&self, &rhs)
            }
        }
        impl $trait<f64> for &Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: f64) -> Result<Tensor> {
                Tensor::$scalar_fn(&self, rhs)
            }
        }
        impl $trait<f64> for Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: f64) -> Result<Tensor> {
                Tensor::$scalar_fn(&self, rhs)
            }
        }
    )*};
}

binary_ops! {
    Add add add add_scalar;
    Sub sub sub sub_scalar;
    Mul mul mul mul_scalar;
    Div div div div_scalar;
}

impl Neg for &Tensor {
    type Output = Result<Tensor>;
    fn neg(self) -> Result<Tensor> {
        Tensor::neg(self)
    }
}

impl Neg for Tensor {
    type Output = Result<Tensor>;
    fn neg(self) -> Result<Tensor> {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Device, Tensor};

    #[test]
    fn operators_chain() {
        let a = Tensor::from_slice(&[1.0f32, 2.0], [2], Device::Cpu).unwrap();
        let b = Tensor::from_slice(&[3.0f32, 4.0], [2], Device::Cpu).unwrap();
        let c = ((&a + &b).unwrap() * 2.0).unwrap();
        assert_eq!(c.to_vec::<f32>().unwrap(), vec![8.0, 12.0]);
        let d = (-(&a / &b).unwrap()).unwrap();
        assert_eq!(d.to_vec::<f32>().unwrap(), vec![-1.0 / 3.0, -0.5]);
        let e = Tensor::from_slice(&[1.0f32, 2.0, 3.0], [3], Device::Cpu).unwrap();
        assert!((&a - &e).is_err());
    }
}
