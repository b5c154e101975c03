import { checkCiConfig } from '../support/ci-config-check.js';

checkCiConfig('RcVerbs_ci_write.cfg');
